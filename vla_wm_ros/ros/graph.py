"""The controller graph as data: which nodes run, with which parameters and remappings.

One description, two readers: launch/controller.launch.py turns each NodeSpec into a
launch_ros Node, and `vla-wm run` (ros/in_process.py) constructs the same nodes in one
process with the same command-line arguments launch_ros would give them. What the tests
check here is therefore what `ros2 launch vla_wm_ros controller.launch.py` starts.

A simulator/robot profile (config/profile_<sim>.yaml) says where our inputs come from
(camera image, joint states, clock) and what the action sink is (message type, topic,
joint names); the wiring between our own nodes is fixed here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vla_wm_ros import paths
from vla_wm_ros.config import ConfigError, from_dict, load_yaml, to_dict
from vla_wm_ros.control.action_sink import ActionSinkConfig
from vla_wm_ros.control.loop_settings import LoopSettings
from vla_wm_ros.deploy import BACKEND_CHOICES

PACKAGE = "vla_wm_ros"
SIMS = ("mujoco", "gazebo", "isaac", "servo", "none")
# Node names, in start order: the simulator first so the camera exists when others start.
NODES = ("sim_bridge", "camera_encoder", "state_estimator", "instruction_parser", "planner")

# Topics between our own nodes (relative, so a namespace moves the whole graph).
EMBEDDING = "camera_encoder/embedding"
LATENT = "state_estimator/latent"
GOAL = "instruction_parser/goal"
EXECUTED_ACTION = "planner/executed_action"
PLAN_STATUS = "planner/plan_status"
EPISODE = "sim_bridge/episode"
SIM_ACTION = "sim_bridge/action"
SIM_IMAGE = "camera/image_raw"
SIM_JOINT_STATES = "joint_states"


@dataclass
class SimProfile:
    """Where a simulator's or robot's bridge publishes and listens, by default."""

    description: str
    # Whether the clock of this setup is a simulator's /clock.
    use_sim_time: bool
    # Start our own sim_bridge node (the embedded Meta-World simulator).
    simulator: bool
    image: str
    joint_states: str
    clock: str = "/clock"
    # Joint names picked from joint_states, in the order the model was trained with;
    # empty: every position in message order.
    proprio_joints: list[str] = field(default_factory=list)
    # geometry_msgs/PoseStamped of the end effector: when set, the proprioception's x, y, z
    # come from it and proprio_joints name only the rest (the gripper).
    ee_pose: str = ""
    action_sink: ActionSinkConfig = field(default_factory=ActionSinkConfig)


def profile_path(sim: str) -> Path:
    return paths.config_dir() / f"profile_{sim}.yaml"


def load_profile(sim: str) -> SimProfile:
    if sim not in SIMS:
        raise ConfigError(f"unknown sim profile {sim!r} (one of: {', '.join(SIMS)})")
    return load_yaml(SimProfile, profile_path(sim))


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str
    choices: tuple[str, ...] = ()


LAUNCH_ARGUMENTS = (
    LaunchArgument("sim", "mujoco", "simulator or robot profile (config/profile_<sim>.yaml)", SIMS),
    LaunchArgument(
        "use_sim_time",
        "auto",
        "follow /clock; auto: as the profile says (true for simulators)",
        ("auto", "true", "false"),
    ),
    LaunchArgument("params_file", "", "ROS 2 params file; empty: config/controller.yaml"),
    LaunchArgument("model_dir", "", f"world-model checkpoint; empty: models/{paths.DEFAULT_MODEL}"),
    LaunchArgument("device", "cpu", "where the models run", ("cpu", "cuda")),
    LaunchArgument("backend", "auto", "inference backend (auto: the fastest)", BACKEND_CHOICES),
    LaunchArgument(
        "control_frequency", str(LoopSettings.control_frequency), "planner ticks per second (Hz)"
    ),
    LaunchArgument(
        "lifecycle",
        "false",
        "planner as a lifecycle node (configure loads, activate commands, deactivate holds)",
        ("true", "false"),
    ),
)


@dataclass
class GraphArguments:
    """The launch arguments, typed. Field names are the launch argument names."""

    sim: Literal["mujoco", "gazebo", "isaac", "servo", "none"] = "mujoco"
    use_sim_time: Literal["auto", "true", "false"] = "auto"
    params_file: str = ""
    model_dir: str = ""
    device: Literal["cpu", "cuda"] = "cpu"
    backend: Literal["auto", "eager", "compile", "torchscript", "onnxruntime", "tensorrt"] = "auto"
    control_frequency: float = LoopSettings.control_frequency
    lifecycle: Literal["true", "false"] = "false"

    def validate(self) -> None:
        if not 0.1 <= self.control_frequency <= 1000.0:
            raise ConfigError(
                f"control_frequency must be in [0.1, 1000] Hz, got {self.control_frequency}"
            )

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> GraphArguments:
        """From launch-argument strings (what LaunchConfiguration.perform returns)."""
        typed: dict[str, Any] = dict(values)
        if "control_frequency" in typed:
            try:
                typed["control_frequency"] = float(typed["control_frequency"])
            except ValueError:
                raise ConfigError(
                    f"control_frequency: {values['control_frequency']!r} is not a number"
                ) from None
        return from_dict(cls, typed)

    def resolved_params_file(self) -> str:
        path = (
            Path(self.params_file) if self.params_file else paths.config_dir() / "controller.yaml"
        )
        if not path.is_file():
            raise ConfigError(f"params_file: {path} does not exist")
        return str(path)

    def resolved_model_dir(self) -> str:
        return self.model_dir or str(paths.models_dir() / paths.DEFAULT_MODEL)


@dataclass(frozen=True)
class NodeSpec:
    """One node as launch_ros would start it: params files, then one dict, then remappings."""

    name: str
    params_files: tuple[str, ...]
    parameters: dict[str, Any]
    remappings: tuple[tuple[str, str], ...]
    # A managed node: started unconfigured, then configured and activated by its starter.
    lifecycle: bool = False

    @property
    def executable(self) -> str:
        return f"lifecycle_{self.name}" if self.lifecycle else self.name

    def launch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for launch_ros.actions.Node."""
        return {
            "package": PACKAGE,
            "executable": self.executable,
            "name": self.name,
            "parameters": [*self.params_files, dict(self.parameters)],
            "remappings": list(self.remappings),
            "output": "screen",
            "emulate_tty": True,
        }

    def ros_arguments(self) -> list[str]:
        """The `--ros-args` launch_ros passes for name, params files and remappings."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        for path in self.params_files:
            args += ["--params-file", path]
        for source, target in self.remappings:
            args += ["-r", f"{source}:={target}"]
        return args


def _flatten(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Nested mapping -> dotted parameter names, the way a params file is read."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(name, value))
        else:
            out[name] = value
    return out


def _without_empty_lists(values: dict[str, Any]) -> dict[str, Any]:
    # An empty list has no ROS parameter type; "not set" means the node's default ([]).
    return {k: v for k, v in values.items() if not (isinstance(v, list) and not v)}


def describe(
    args: GraphArguments, overrides: dict[str, dict[str, Any]] | None = None
) -> list[NodeSpec]:
    """The nodes to start for `args`; `overrides` (node -> parameter -> value) come last."""
    args = from_dict(GraphArguments, dataclasses.asdict(args))
    profile = load_profile(args.sim)
    params_file = args.resolved_params_file()
    sim_time = profile.use_sim_time if args.use_sim_time == "auto" else args.use_sim_time == "true"
    model = {
        "model_dir": args.resolved_model_dir(),
        "device": args.device,
        "backend": args.backend,
    }
    clock = () if profile.clock == "/clock" else (("/clock", profile.clock),)
    sink = _flatten("action_sink", to_dict(profile.action_sink))

    nodes: dict[str, tuple[dict[str, Any], tuple[tuple[str, str], ...]]] = {
        "camera_encoder": (model, (("image", profile.image),)),
        "state_estimator": (
            {
                **model,
                "proprio_joints": list(profile.proprio_joints),
                "proprio_source": "pose" if profile.ee_pose else "joint_states",
            },
            (
                ("embedding", EMBEDDING),
                ("joint_states", profile.joint_states),
                ("executed_action", EXECUTED_ACTION),
                ("goal", GOAL),
                *((("ee_pose", profile.ee_pose),) if profile.ee_pose else ()),
            ),
        ),
        "instruction_parser": (
            {"model_dir": args.resolved_model_dir()},
            (
                ("image", profile.image),  # read by the VLM backend only
                ("plan_status", PLAN_STATUS),
                ("episode", EPISODE),
            ),
        ),
        "planner": (
            {**model, "control_frequency": args.control_frequency, **sink},
            (("latent", LATENT), ("goal", GOAL)),
        ),
    }
    if profile.simulator:
        # The simulator is the clock's source: it never follows /clock itself. It renders
        # as the planner's model was trained to see (that checkpoint's observation).
        nodes["sim_bridge"] = (
            {"model_dir": args.resolved_model_dir(), "step_frequency": args.control_frequency},
            (("goal", GOAL),),
        )

    unknown = sorted(set(overrides or {}) - set(nodes))
    if unknown:
        raise ConfigError(
            f"overrides name node(s) not in the {args.sim} graph: {', '.join(unknown)}"
        )
    specs = []
    for name in NODES:
        if name not in nodes:
            continue
        parameters, remappings = nodes[name]
        if name != "sim_bridge":
            parameters = {"use_sim_time": sim_time, **parameters}
            remappings = remappings + clock if sim_time else remappings
        parameters = _without_empty_lists({**parameters, **(overrides or {}).get(name, {})})
        lifecycle = name == "planner" and args.lifecycle == "true"
        specs.append(NodeSpec(name, (params_file,), parameters, remappings, lifecycle))
    return specs
