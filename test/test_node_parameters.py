"""Each node's declared parameter defaults are exactly what config/controller.yaml says,
and the file is read by rcl's own params-file parser without surprises."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import get_args

import pytest
import yaml

from vla_wm_ros.control.action_sink import ActionSinkConfig, SinkType
from vla_wm_ros.control.loop_settings import LoopSettings
from vla_wm_ros.ros.graph import NODES, GraphArguments
from vla_wm_ros.ros.parameters import defaults, params_from

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


@pytest.mark.parametrize(
    ("node", "cls", "prefix"),
    [("planner", LoopSettings, ""), ("planner", ActionSinkConfig, "action_sink.")],
)
def test_dataclass_settings_are_declared_with_the_dataclass_defaults(node, cls, prefix):
    """The dataclass is the one home of these defaults: the node declares what it says."""
    declared = defaults(importlib.import_module(f"vla_wm_ros.nodes.{node}").PARAMETERS)
    instance = cls()
    for f in dataclasses.fields(cls):
        assert declared[prefix + f.name] == getattr(instance, f.name), prefix + f.name
    assert GraphArguments().control_frequency == LoopSettings().control_frequency


def test_params_from_reads_descriptions_bounds_and_choices():
    rows = {row.name: row for row in params_from(ActionSinkConfig, "sink.")}
    assert rows["sink.type"].choices == get_args(SinkType)
    assert (rows["sink.time_from_start"].low, rows["sink.time_from_start"].high) == (0.0, 60.0)
    assert rows["sink.joint_names"].default == [] and rows["sink.joint_names"].item is str
    assert rows["sink.scale"].default is not ActionSinkConfig().scale  # a fresh list each
    rows = {row.name: row for row in params_from(LoopSettings)}
    assert rows["trigger"].choices == ("timer", "belief") and rows["stats_window"].low == 2

    @dataclasses.dataclass
    class Undocumented:
        rate: float = 1.0

    with pytest.raises(TypeError, match=r"Undocumented\.rate: no doc"):
        params_from(Undocumented)
