"""Each node's declared parameter defaults are exactly what config/controller.yaml says,
and the file is read by rcl's own params-file parser without surprises."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from vla_wm_ros.ros.graph import NODES
from vla_wm_ros.ros.parameters import defaults

CONTROLLER_YAML = Path(__file__).resolve().parent.parent / "config" / "controller.yaml"


def _flatten(prefix: str, values: dict) -> dict:
    out = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        out.update(_flatten(name, value) if isinstance(value, dict) else {name: value})
    return out


@pytest.mark.parametrize("node", NODES)
def test_declared_defaults_match_controller_yaml(node):
    table = importlib.import_module(f"vla_wm_ros.nodes.{node}").PARAMETERS
    written = _flatten("", yaml.safe_load(CONTROLLER_YAML.read_text())[node]["ros__parameters"])
    declared = defaults(table)
    assert set(written) == set(declared), (
        f"{node}: only in controller.yaml {sorted(set(written) - set(declared))}, "
        f"only declared {sorted(set(declared) - set(written))}"
    )
    for name, value in declared.items():
        assert written[name] == value, f"{node}.{name}: yaml {written[name]!r}, code {value!r}"
        assert type(written[name]) is type(value), f"{node}.{name}: type differs"
    for row in table:
        assert row.description, f"{node}.{row.name} has no description"


@pytest.mark.graph
def test_rcl_reads_controller_yaml_as_the_nodes_declare_it(ros_context):
    from rclpy.node import Node

    from vla_wm_ros.ros.parameters import declare_parameters

    for name in NODES:
        table = importlib.import_module(f"vla_wm_ros.nodes.{name}").PARAMETERS
        node = Node(
            name,
            context=ros_context,
            cli_args=["--ros-args", "--params-file", str(CONTROLLER_YAML)],
            use_global_arguments=False,
        )
        values = vars(declare_parameters(node, table))
        for row in table:
            assert values[row.name.replace(".", "_")] == row.default, f"{name}.{row.name}"
        node.destroy_node()
