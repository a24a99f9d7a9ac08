"""The computing core and control/ load no rclpy: they run and are tested without ROS.

Every module outside nodes/ and ros/ is imported in a fresh interpreter (so nothing this
test process already loaded hides an import), one after another; the first whose import
brings in rclpy is named.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import vla_wm_ros

PACKAGE = Path(vla_wm_ros.__file__).resolve().parent
ROS_SIDE = {"nodes", "ros"}  # the only places that may import rclpy

CHECK = """
import importlib, json, sys
first = None
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    if any(m == "rclpy" or m.startswith("rclpy.") for m in sys.modules):
        first = name
        break
print(json.dumps({"first_with_rclpy": first}))
"""


def core_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] in ROS_SIDE:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(("vla_wm_ros", *parts)))
    return names


def test_core_and_control_modules_import_without_rclpy():
    modules = core_modules()
    assert "vla_wm_ros.control.control_loop" in modules and "vla_wm_ros.planning" in modules
    assert not any(m.startswith(("vla_wm_ros.ros", "vla_wm_ros.nodes")) for m in modules)
    out = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PACKAGE.parent,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    first = json.loads(out.stdout.strip().splitlines()[-1])["first_with_rclpy"]
    assert first is None, f"importing {first} loads rclpy"


def test_the_check_names_a_module_that_loads_rclpy():
    """The same check on a module that does import rclpy: the test can fail."""
    out = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps(["vla_wm_ros.paths", "vla_wm_ros.ros.qos"])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PACKAGE.parent,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "first_with_rclpy": "vla_wm_ros.ros.qos"
    }
