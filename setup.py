"""ament_python package vla_wm_ros.

data_files put launch/, config/, models/ and package.xml under share/vla_wm_ros and the
ament index marker under share/ament_index, where `ros2 launch` and `ros2 run` look.
"""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "vla_wm_ros"

NODES = [
    "camera_encoder",
    "state_estimator",
    "planner",
    "lifecycle_planner",
    "instruction_parser",
    "sim_bridge",
]


def _files(pattern: str) -> list[str]:
    return sorted(p for p in glob(pattern) if not p.endswith("/"))


# Machine-local folders never installed: bytecode, and compiled inference engines (they
# are rebuilt for the target machine's backend versions; see docs/DEPLOY.md).
LOCAL_ONLY = {"__pycache__", "engines"}


def _tree(top: str) -> list[tuple[str, list[str]]]:
    """data_files entries for every file under `top`, keeping its sub-folders."""
    return [
        (f"share/{PACKAGE}/{folder}", sorted(os.path.join(folder, f) for f in files))
        for folder, _dirs, files in sorted(os.walk(top))
        if files and not LOCAL_ONLY.intersection(folder.split(os.sep))
    ]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={
        PACKAGE: [
            "tasks/*.yaml",
            "config/presets/*.yaml",
            "config/train_presets/*.yaml",
            "planning/presets/*.yaml",
        ]
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", _files("launch/*.py")),
        (
            f"share/{PACKAGE}/config",
            _files("config/*.yaml") + _files("config/*.rviz") + _files("config/*.json"),
        ),
        *_tree("models"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="vla_wm_ros maintainers",
    maintainer_email="maintainers@vla-wm-ros.dev",
    description="Language-commanded world-model control for ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [f"{n} = {PACKAGE}.nodes.{n}:main" for n in NODES]
        + ["vla-wm = vla_wm_ros.cli:main"],
    },
)
