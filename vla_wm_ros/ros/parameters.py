"""Declare a node's parameters from one table, with descriptors, ranges and defaults.

Each node lists its parameters once as `Param` rows; `declare_parameters` turns them into
ROS 2 parameters with a ParameterDescriptor (description, range, read-only), so
`ros2 param describe` explains every one. The defaults here are the ones written in
config/controller.yaml (a test keeps the two equal).

Empty list defaults are declared with their array type: a ROS 2 params file cannot carry
an empty list (it reads as "not set"), so "not set" reads back as the empty list.
"""

from __future__ import annotations

import array
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from vla_wm_ros.deploy import BACKEND_CHOICES

_LIST_TYPES = {
    float: ParameterType.PARAMETER_DOUBLE_ARRAY,
    int: ParameterType.PARAMETER_INTEGER_ARRAY,
    str: ParameterType.PARAMETER_STRING_ARRAY,
    bool: ParameterType.PARAMETER_BOOL_ARRAY,
}


@dataclass(frozen=True)
class Param:
    """One parameter: name (dots for groups), default, description, optional bounds."""

    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    # Element type of a list parameter whose default is empty.
    item: type = str
    read_only: bool = True

    def descriptor(self) -> ParameterDescriptor:
        text = self.description
        if self.choices:
            text += f" (one of: {', '.join(self.choices)})"
        desc = ParameterDescriptor(description=text, read_only=self.read_only)
        if self.low is not None and self.high is not None:
            if isinstance(self.default, bool) or not isinstance(self.default, int | float):
                raise TypeError(f"parameter {self.name}: a range needs a numeric default")
            if isinstance(self.default, int):
                desc.integer_range = [
                    IntegerRange(from_value=int(self.low), to_value=int(self.high), step=0)
                ]
            else:
                desc.floating_point_range = [
                    FloatingPointRange(
                        from_value=float(self.low), to_value=float(self.high), step=0.0
                    )
                ]
        if isinstance(self.default, list) and not self.default:
            desc.type = _LIST_TYPES[self.item]
        return desc


def declare_parameters(node: Node, table: list[Param]) -> SimpleNamespace:
    """Declare every row of `table` on `node`; returns the values by name (dots -> '_').

    Raises ValueError naming the parameter when a value is outside its choices.
    """
    values: dict[str, Any] = {}
    for row in table:
        desc = row.descriptor()
        if isinstance(row.default, list) and not row.default:
            param = node.declare_parameter(row.name, Parameter.Type(desc.type), desc)
            value = [] if param.type_ == Parameter.Type.NOT_SET else list(param.value)
        else:
            value = node.declare_parameter(row.name, row.default, desc).value
            if isinstance(value, tuple | list | array.array):
                value = list(value)
        if row.choices and value not in row.choices:
            raise ValueError(
                f"parameter {node.get_name()}.{row.name} = {value!r} is not one of "
                f"{', '.join(row.choices)}"
            )
        values[row.name.replace(".", "_")] = value
    return SimpleNamespace(**values)


def defaults(table: list[Param]) -> dict[str, Any]:
    """The defaults of `table` by parameter name (for comparing with config files)."""
    return {row.name: row.default for row in table}


# Every node that loads the world model declares these.
MODEL_PARAMETERS = [
    Param("model_dir", "", "world-model checkpoint directory; empty: the shipped model"),
    Param("device", "cpu", "where the model runs", choices=("cpu", "cuda")),
    Param(
        "backend",
        "auto",
        "inference backend (auto: the fastest here, measured once and remembered)",
        choices=BACKEND_CHOICES,
    ),
    Param("engine_cache", "", "compiled backend artifacts; empty: <model_dir>/engines"),
]
