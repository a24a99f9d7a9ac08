"""The graph description that both controller.launch.py and `vla-wm run` read (no graph)."""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

import pytest
import yaml

from vla_wm_ros.config import ConfigError
from vla_wm_ros.ros.graph import (
    LAUNCH_ARGUMENTS,
    SIMS,
    GraphArguments,
    describe,
    load_profile,
)

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILE = ROOT / "launch" / "controller.launch.py"
# Issue 7's arguments, plus issue 8's inference backend.
ISSUE_ARGUMENTS = {
    "sim",
    "use_sim_time",
    "params_file",
    "model_dir",
    "device",
    "control_frequency",
    "backend",
    "lifecycle",
}


def _by_name(specs):
    return {spec.name: spec for spec in specs}


def test_launch_arguments_are_the_documented_ones():
    assert {a.name for a in LAUNCH_ARGUMENTS} == ISSUE_ARGUMENTS
    defaults = GraphArguments.from_strings({a.name: a.default for a in LAUNCH_ARGUMENTS})
    assert defaults == GraphArguments()
    for a in LAUNCH_ARGUMENTS:
        assert not a.choices or a.default in a.choices, a.name
    backend = next(a for a in LAUNCH_ARGUMENTS if a.name == "backend")
    for choice in backend.choices:  # every backend choice is a valid GraphArguments value
        assert GraphArguments.from_strings({"backend": choice}).backend == choice


@pytest.mark.parametrize("sim", SIMS)
def test_every_profile_loads_and_describes_a_graph(sim):
    profile = load_profile(sim)
    specs = _by_name(describe(GraphArguments(sim=sim)))
    expected = {"camera_encoder", "state_estimator", "instruction_parser", "planner"}
    assert set(specs) == expected | ({"sim_bridge"} if profile.simulator else set())
    camera = dict(specs["camera_encoder"].remappings)
    assert camera["image"] == profile.image
    estimator = dict(specs["state_estimator"].remappings)
    assert estimator["joint_states"] == profile.joint_states
    planner = specs["planner"].parameters
    assert planner["action_sink.type"] == profile.action_sink.type
    assert planner["action_sink.topic"] == profile.action_sink.topic
    for spec in specs.values():
        assert spec.params_files == (str(ROOT / "config" / "controller.yaml"),)


def test_embedded_simulator_wiring():
    specs = _by_name(describe(GraphArguments(sim="mujoco", control_frequency=7.5)))
    assert specs["planner"].parameters["action_sink.topic"] == "sim_bridge/action"
    assert specs["planner"].parameters["control_frequency"] == 7.5
    assert specs["sim_bridge"].parameters["step_frequency"] == 7.5
    # The simulator renders as the planner's model was trained to see.
    assert specs["sim_bridge"].parameters["model_dir"] == specs["planner"].parameters["model_dir"]
    assert dict(specs["camera_encoder"].remappings)["image"] == "camera/image_raw"
    # Our nodes find each other's private topics through remappings.
    estimator = dict(specs["state_estimator"].remappings)
    assert estimator["embedding"] == "camera_encoder/embedding"
    assert estimator["executed_action"] == "planner/executed_action"
    assert estimator["goal"] == dict(specs["planner"].remappings)["goal"]
    assert dict(specs["planner"].remappings)["latent"] == "state_estimator/latent"
    # The simulator is the clock: it never follows /clock; everything else does by default.
    assert "use_sim_time" not in specs["sim_bridge"].parameters
    for name in ("camera_encoder", "state_estimator", "instruction_parser", "planner"):
        assert specs[name].parameters["use_sim_time"] is True, name


def test_robot_profiles_map_inputs_and_sink_to_bridge_defaults():
    gazebo = _by_name(describe(GraphArguments(sim="gazebo")))
    assert dict(gazebo["camera_encoder"].remappings)["image"] == "/camera"
    assert gazebo["planner"].parameters["action_sink.type"] == "joint_trajectory"
    assert len(gazebo["planner"].parameters["action_sink.joint_names"]) == 4
    isaac = _by_name(describe(GraphArguments(sim="isaac")))
    assert dict(isaac["camera_encoder"].remappings)["image"] == "rgb"
    assert isaac["planner"].parameters["action_sink.type"] == "joint_state"
    assert isaac["planner"].parameters["action_sink.topic"] == "joint_command"
    # Isaac publishes a relative `clock`: every node that follows sim time is remapped.
    for name, spec in isaac.items():
        assert ("/clock", "clock") in spec.remappings, name
    assert all(("/clock", "clock") not in s.remappings for s in gazebo.values())


def test_use_sim_time_argument_overrides_the_profile():
    none = _by_name(describe(GraphArguments(sim="none")))
    assert none["planner"].parameters["use_sim_time"] is False
    forced = _by_name(describe(GraphArguments(sim="none", use_sim_time="true")))
    assert forced["planner"].parameters["use_sim_time"] is True
    off = _by_name(describe(GraphArguments(sim="mujoco", use_sim_time="false")))
    assert off["camera_encoder"].parameters["use_sim_time"] is False


def test_model_dir_device_and_params_file_arguments(tmp_path):
    params = tmp_path / "mine.yaml"
    params.write_text("planner:\n  ros__parameters:\n    mode: actor\n")
    args = GraphArguments(
        sim="none", model_dir=str(tmp_path), device="cuda", params_file=str(params)
    )
    for spec in describe(args):
        assert spec.params_files == (str(params),)
        if spec.name != "instruction_parser":  # the sentence encoder runs on the CPU
            assert spec.parameters["model_dir"] == str(tmp_path)
            assert spec.parameters["device"] == "cuda"
    default = _by_name(describe(GraphArguments()))
    assert default["planner"].parameters["model_dir"].endswith("models/world_model")


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ConfigError, match="control_frequency"):
        GraphArguments.from_strings({"control_frequency": "fast"})
    with pytest.raises(ConfigError, match="control_frequency"):
        GraphArguments.from_strings({"control_frequency": "0"})
    with pytest.raises(ConfigError, match="sim"):
        GraphArguments.from_strings({"sim": "webots"})
    with pytest.raises(ConfigError, match="device"):
        GraphArguments.from_strings({"device": "tpu"})
    with pytest.raises(ConfigError, match="params_file"):
        describe(GraphArguments(params_file=str(tmp_path / "missing.yaml")))
    with pytest.raises(ConfigError, match="sim_bridge"):
        describe(GraphArguments(sim="isaac"), overrides={"sim_bridge": {"seed": 1}})


def test_overrides_come_last_and_empty_lists_mean_the_default():
    specs = _by_name(
        describe(
            GraphArguments(),
            overrides={"planner": {"mode": "random", "control_frequency": 20.0}},
        )
    )
    assert specs["planner"].parameters["mode"] == "random"
    assert specs["planner"].parameters["control_frequency"] == 20.0
    # mujoco's proprio_joints is [] (all joints): not passed, so the node keeps its default.
    assert "proprio_joints" not in specs["state_estimator"].parameters


def test_launch_kwargs_and_ros_arguments_say_the_same_thing():
    for spec in describe(GraphArguments(sim="isaac")):
        kwargs = spec.launch_kwargs()
        assert kwargs["package"] == "vla_wm_ros"
        assert kwargs["executable"] == kwargs["name"] == spec.name
        # launch_ros applies parameters in order: the params file first, then the dict.
        assert kwargs["parameters"][: len(spec.params_files)] == list(spec.params_files)
        assert kwargs["parameters"][-1] == spec.parameters
        args = spec.ros_arguments()
        assert args[:3] == ["--ros-args", "-r", f"__node:={spec.name}"]
        for path in spec.params_files:
            assert args[args.index("--params-file") + 1] == path
        remaps = [args[i + 1] for i, a in enumerate(args) if a == "-r"][1:]
        assert remaps == [f"{a}:={b}" for a, b in kwargs["remappings"]]


def test_launch_file_compiles_and_translates_the_description():
    py_compile.compile(str(LAUNCH_FILE), doraise=True)
    source = LAUNCH_FILE.read_text()
    tree = ast.parse(source)
    imported = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert {
        ("launch", "LaunchDescription"),
        ("launch.actions", "DeclareLaunchArgument"),
        ("launch.actions", "OpaqueFunction"),
        ("launch.substitutions", "LaunchConfiguration"),
        ("launch_ros.actions", "Node"),
        ("vla_wm_ros.ros.graph", "LAUNCH_ARGUMENTS"),
        ("vla_wm_ros.ros.graph", "describe"),
    } <= imported
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    # Node(**spec.launch_kwargs()): the launch file adds nothing of its own to a node.
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    node_calls = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "Node"]
    assert len(node_calls) == 1 and not node_calls[0].args
    (starred,) = node_calls[0].keywords
    assert starred.arg is None and ast.unparse(starred.value) == "spec.launch_kwargs()"
    # Every argument is documented in the file a user reads.
    doc = ast.get_docstring(tree)
    for name in ISSUE_ARGUMENTS:
        assert f"\n    {name} " in doc, f"launch file docstring does not describe {name}"


def test_profiles_are_plain_yaml_with_known_keys():
    for sim in SIMS:
        data = yaml.safe_load((ROOT / "config" / f"profile_{sim}.yaml").read_text())
        assert data["description"]
        assert load_profile(sim).action_sink.topic
