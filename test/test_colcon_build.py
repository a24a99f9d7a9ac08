"""Build the package and its interfaces with colcon, the way a ROS 2 user does, and check
that everything lands where `ros2 run` and `ros2 launch` look for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
NODES = ["camera_encoder", "state_estimator", "planner", "instruction_parser", "sim_bridge"]

pytestmark = pytest.mark.slow


LOCAL_ONLY = {"__pycache__", "engines"}  # git-ignored, never installed (setup.py)


def _files_under(folder: Path) -> set[Path]:
    files = {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}
    return {p for p in files if not LOCAL_ONLY.intersection(p.parts)}


@pytest.fixture(scope="module")
def colcon_install(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("colcon")
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV / 'bin'}:{env.get('PATH', '')}",
        CMAKE_PREFIX_PATH=str(VENV),
        AMENT_PREFIX_PATH=str(VENV),
        LD_LIBRARY_PATH=f"{VENV / 'lib'}:{env.get('LD_LIBRARY_PATH', '')}",
    )
    cmd = [
        str(VENV / "bin" / "colcon"),
        "--log-base", str(base / "log"),
        "build",
        "--paths", str(ROOT), str(ROOT / "vla_wm_interfaces"),
        "--build-base", str(base / "build"),
        "--install-base", str(base / "install"),
        "--cmake-args", f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=base, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"colcon build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return base / "install"


def test_console_scripts_land_in_lib(colcon_install):
    lib = colcon_install / "vla_wm_ros" / "lib" / "vla_wm_ros"
    for name in [*NODES, "vla-wm"]:
        script = lib / name
        assert script.is_file(), f"{script} missing: `ros2 run vla_wm_ros {name}` would fail"
        assert os.access(script, os.X_OK)


def test_share_holds_package_xml_launch_config_and_index_marker(colcon_install):
    prefix = colcon_install / "vla_wm_ros"
    share = prefix / "share" / "vla_wm_ros"
    assert (share / "package.xml").read_text() == (ROOT / "package.xml").read_text()
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    assert (index / "vla_wm_ros").is_file()
    assert (share / "launch" / "controller.launch.py").is_file(), (
        "controller.launch.py missing: `ros2 launch vla_wm_ros controller.launch.py` would fail"
    )
    for folder in ["launch", "config", "models"]:
        installed, source = _files_under(share / folder), _files_under(ROOT / folder)
        assert installed == source, f"share/vla_wm_ros/{folder} differs from the source tree"


def test_interfaces_package_installs_python_bindings(colcon_install):
    prefix = colcon_install / "vla_wm_interfaces"
    assert (prefix / "share" / "vla_wm_interfaces" / "msg" / "Goal.msg").is_file()
    assert (prefix / "share" / "vla_wm_interfaces" / "srv" / "SetGoal.srv").is_file()
    bindings = list(prefix.rglob("vla_wm_interfaces/srv/_set_goal.py"))
    assert bindings, "no generated Python module for SetGoal"


def test_installed_package_finds_its_share_through_the_ament_index(colcon_install, tmp_path):
    """Outside a checkout, resources must come from share/, found through the ament index."""
    prefix = colcon_install / "vla_wm_ros"
    site = next((prefix / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, PYTHONPATH=str(site), AMENT_PREFIX_PATH=f"{prefix}:{VENV}")
    code = "from vla_wm_ros.paths import share_dir, __file__ as f; print(share_dir()); print(f)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    share, module = result.stdout.split()
    assert Path(module).is_relative_to(site), f"imported the checkout, not the install: {module}"
    assert Path(share) == prefix / "share" / "vla_wm_ros"
