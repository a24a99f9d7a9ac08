"""Where the package's launch files, config profiles and shipped models live.

From a source checkout (editable install, tests) they are beside the package; on a
ROS install they are under share/vla_wm_ros, found through the ament index.
"""

from __future__ import annotations

import functools
from pathlib import Path

PACKAGE = "vla_wm_ros"
# The shipped world-model checkpoint, under models/ (config.yaml + *.safetensors).
DEFAULT_MODEL = "world_model"


@functools.cache
def share_dir() -> Path:
    """Root holding launch/, config/ and models/ for this installation."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "package.xml").is_file() and (checkout / "config").is_dir():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception as exc:  # ament_index raises its own lookup error type
        raise FileNotFoundError(
            f"cannot find the {PACKAGE} share directory: not a source checkout and "
            f"not in the ament index ({exc}); source your ROS workspace or reinstall"
        ) from exc


def config_dir() -> Path:
    return share_dir() / "config"


def models_dir() -> Path:
    return share_dir() / "models"


def launch_dir() -> Path:
    return share_dir() / "launch"
