"""Declare a node's parameters from one table, with descriptors, ranges and defaults.

Each node lists its parameters once as `Param` rows; `declare_parameters` turns them into
ROS 2 parameters with a ParameterDescriptor (description, range, read-only), so
`ros2 param describe` explains every one. Settings that have a dataclass (the action
sink, the loop timing, the simulator) get their rows from it (`params_from`): the
dataclass is the one home of their defaults. config/controller.yaml is checked against
the tables by a test.

Empty list defaults are declared with their array type: a ROS 2 params file cannot carry
an empty list (it reads as "not set"), so "not set" reads back as the empty list.
"""

from __future__ import annotations

import array
import dataclasses
import typing
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from vla_wm_ros.config import from_dict
from vla_wm_ros.deploy import BACKEND_CHOICES
from vla_wm_ros.ros.graph import GraphArguments

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


def params_from(cls: type, prefix: str = "") -> list[Param]:
    """One row per field of dataclass `cls`, named `prefix` + field name: the field's
    default, the description and bounds of its `doc(...)` metadata, a Literal's values as
    its choices. A field without a description is refused (`ros2 param describe`)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name}: no doc(...) metadata to describe it")
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        hint = hints[f.name]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        rows.append(
            Param(
                prefix + f.name,
                default,
                f.metadata["help"],
                f.metadata["low"],
                f.metadata["high"],
                choices=args if origin is Literal else (),
                item=args[0] if origin is list else str,
            )
        )
    return rows


def config_from(cls: type, values: SimpleNamespace, prefix: str = ""):
    """The dataclass `cls` from declared values (rows of `params_from(cls, prefix)`),
    validated; a ConfigError names the parameter."""
    data = {
        f.name: getattr(values, (prefix + f.name).replace(".", "_"))
        for f in dataclasses.fields(cls)
    }
    return from_dict(cls, data, prefix.rstrip("."))


def defaults(table: list[Param]) -> dict[str, Any]:
    """The defaults of `table` by parameter name (for comparing with config files)."""
    return {row.name: row.default for row in table}


# Every node that loads the world model declares these.
MODEL_PARAMETERS = [
    Param("model_dir", "", "world-model checkpoint directory; empty: the shipped model"),
    Param("device", GraphArguments.device, "where the model runs", choices=("cpu", "cuda")),
    Param(
        "backend",
        GraphArguments.backend,
        "inference backend (auto: the fastest here, measured once and remembered)",
        choices=BACKEND_CHOICES,
    ),
    Param("engine_cache", "", "compiled backend artifacts; empty: <model_dir>/engines"),
]
