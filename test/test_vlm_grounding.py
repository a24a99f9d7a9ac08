"""VLM grounding backend, goal-space record and check, timeouts, scene suite and evaluation.

Tiny LLaVA-, Idefics3 (SmolVLM)- and PaliGemma-class VLMs are built from a transformers
config, saved to a temporary directory and loaded through the same AutoProcessor /
AutoModelForImageTextToText path as a real one (test/vlm_fixtures.py); nothing is
downloaded. The goal-space encoder is the real shipped all-MiniLM-L6-v2.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml
from graph_fixtures import make_tiny_checkpoint
from vlm_fixtures import tiny_vlm

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.language.backends import GroundingConfig, build_grounder
from vla_wm_ros.language.encoder import SentenceEncoder
from vla_wm_ros.language.goal_space import META_KEY, GoalSpace, GoalSpaceMismatch
from vla_wm_ros.language.grounding import Grounder
from vla_wm_ros.language.suite import load_suite
from vla_wm_ros.language.timeout import TimedGrounder
from vla_wm_ros.language.vlm import VLMConfig, VLMGrounder
from vla_wm_ros.models.checkpoint import META_FILE

# Option letters of the mt10 suite: F = drawer-close (6th task), K = none of these.
DRAWER_CLOSE, NONE = "F", "K"
FRAME = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder()


@pytest.fixture(scope="module")
def suite():
    return load_suite()


@pytest.fixture(scope="module")
def vlm_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vlm")
    return {
        name: tiny_vlm(root / name, answer, family)
        for name, answer, family in (
            ("close", DRAWER_CLOSE, "llava"),
            ("none", NONE, "llava"),
            ("random", None, "llava"),
            ("close_idefics3", DRAWER_CLOSE, "idefics3"),
            ("close_paligemma", DRAWER_CLOSE, "paligemma"),
        )
    }


@pytest.fixture(scope="module")
def closer(vlm_dirs, suite, encoder):
    return VLMGrounder(VLMConfig(model_dir=vlm_dirs["close"]), suite, encoder)


def _checkpoint(directory, goal_space: GoalSpace | None):
    make_tiny_checkpoint(directory)
    if goal_space is not None:
        (directory / META_FILE).write_text(yaml.safe_dump({META_KEY: goal_space.to_meta()}))
    return directory


def _narrow_checkpoint(directory):
    import torch

    from vla_wm_ros.config.model import load_preset
    from vla_wm_ros.models.checkpoint import save_checkpoint
    from vla_wm_ros.models.world_model import WorldModel

    torch.manual_seed(0)
    model = WorldModel(load_preset("tiny"), action_dim=4, proprio_dim=4, goal_dim=16)
    return save_checkpoint(model, directory)


@pytest.mark.parametrize("model", ["close", "close_idefics3", "close_paligemma"])
def test_vlm_grounds_to_the_task_it_answers_with_the_goal_space_embedding(
    model, vlm_dirs, suite, encoder
):
    # LLaVA, Idefics3 (SmolVLM): a chat template places <image>, Idefics3 expands it to
    # tiles; PaliGemma: no template, its processor places the image.
    closer = VLMGrounder(VLMConfig(model_dir=vlm_dirs[model]), suite, encoder)
    probs = closer.option_probabilities("close it", FRAME)
    assert probs.shape == (len(suite.names) + 1,)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    g = closer.ground("  close   it ", FRAME)
    assert g.accepted and g.task == "drawer-close" and g.confidence > 0.9
    assert g.embedding.shape == (encoder.dim,) and g.embedding.dtype == np.float32
    # The goal is the goal-space encoder's vector of the task's canonical instruction.
    expected = encoder.embed([suite.task("drawer-close").canonical])[0]
    np.testing.assert_allclose(g.embedding, expected, atol=1e-6)
    assert "drawer-close" in g.reason and "VLM" in g.reason


def test_vlm_refusals_name_their_reason(vlm_dirs, closer, suite, encoder):
    none = VLMGrounder(VLMConfig(model_dir=vlm_dirs["none"]), suite, encoder)
    g = none.ground("press the button you can see", FRAME)
    assert not g.accepted and g.task is None and "none of these" in g.reason
    assert not g.embedding.any() and g.embedding.shape == (encoder.dim,)
    # A random model spreads its answer: a demanding threshold refuses it as ambiguous.
    unsure = VLMGrounder(
        VLMConfig(model_dir=vlm_dirs["random"], min_confidence=0.9), suite, encoder
    )
    g = unsure.ground("open the drawer", FRAME)
    assert not g.accepted and g.reason.startswith("ambiguous") and g.confidence < 0.9
    assert "no current camera frame" in closer.ground("close it", None).reason
    assert "instruction is empty" in closer.ground("   ", FRAME).reason
    assert "HxWx3 uint8" in closer.ground("close it", FRAME[..., 0]).reason


def test_vlm_config_errors_name_the_setting(tmp_path, suite, encoder):
    with pytest.raises(ConfigError, match=r"vlm\.model_dir"):
        VLMGrounder(VLMConfig(), suite, encoder)
    with pytest.raises(ConfigError, match=r"no config\.json"):
        VLMGrounder(VLMConfig(model_dir=tmp_path), suite, encoder)
    with pytest.raises(ConfigError, match="float16 needs a CUDA"):
        VLMConfig(model_dir=tmp_path, dtype="float16").validate()
    with pytest.raises(ConfigError, match="dtype"):
        VLMConfig(dtype="int4").validate()
    with pytest.raises(ConfigError, match="backend"):
        GroundingConfig(backend="gpt").validate()


def test_bfloat16_vlm_runs_on_cpu(vlm_dirs, suite, encoder):
    g = VLMGrounder(VLMConfig(model_dir=vlm_dirs["close"], dtype="bfloat16"), suite, encoder)
    assert next(g.model.parameters()).dtype.is_floating_point
    assert str(next(g.model.parameters()).dtype) == "torch.bfloat16"
    assert g.ground("close it", FRAME).task == "drawer-close"


def test_timeout_refuses_and_the_worker_recovers(closer):
    timed = TimedGrounder(closer, timeout=1e-4)
    try:
        start = time.perf_counter()
        g = timed.ground("close it", FRAME)
        assert time.perf_counter() - start < 0.5
        assert not g.accepted and "took longer than" in g.reason
        assert g.embedding.shape == (closer.dim,)
        timed.timeout = 30.0  # the overrun finishes in the worker; the next one is answered
        assert timed.ground("close it", FRAME).task == "drawer-close"
    finally:
        timed.close()


def test_checkpoint_goal_space_is_checked(tmp_path, vlm_dirs, encoder):
    actual = GoalSpace.of_encoder(encoder)
    vlm = GroundingConfig(backend="vlm", vlm=VLMConfig(model_dir=vlm_dirs["close"]))
    same = _checkpoint(tmp_path / "same", actual)
    assert isinstance(build_grounder(vlm, same), VLMGrounder)
    assert isinstance(build_grounder(GroundingConfig(), same), Grounder)
    # Trained before goal spaces were recorded: accepted, the widths agree.
    assert isinstance(
        build_grounder(GroundingConfig(), _checkpoint(tmp_path / "old", None)), Grounder
    )
    other = GoalSpace("another-384-wide-encoder", "0123456789abcdef", actual.dim)
    wrong = _checkpoint(tmp_path / "wrong", other)
    for config in (vlm, GroundingConfig()):
        with pytest.raises(GoalSpaceMismatch) as info:
            build_grounder(config, wrong)
        message = str(info.value)
        assert "0123456789abcdef" in message and actual.id in message and str(wrong) in message
    with pytest.raises(GoalSpaceMismatch, match="goals of 16 values"):
        build_grounder(GroundingConfig(), _narrow_checkpoint(tmp_path / "narrow"))
    (tmp_path / "bad").mkdir()
    make_tiny_checkpoint(tmp_path / "bad")
    (tmp_path / "bad" / META_FILE).write_text(yaml.safe_dump({META_KEY: {"name": "x"}}))
    with pytest.raises(ConfigError, match="goal_encoder must have name, id and dim"):
        build_grounder(GroundingConfig(), tmp_path / "bad")


def test_scene_suite_is_checked(tmp_path, suite):
    assert {s.name for s in suite.scenes} >= {"drawer_open", "drawer_closed", "button"}
    assert any(item.expected is None for item in suite.scene_instructions)
    path = tmp_path / "suite.yaml"
    data = {
        "version": 1,
        "tasks": [{"name": "drawer-open", "canonical": "open the drawer"}],
        "scenes": [{"name": "closed", "task": "drawer-open", "shows": "closed drawer"}],
        "scene_instructions": [{"text": "open it", "scene": "ajar", "expected": "drawer-open"}],
    }
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"scene_instructions\[0\]: unknown scene 'ajar'"):
        load_suite(path)


def test_evaluation_counts_scene_and_text_answers(vlm_dirs, suite, encoder):
    from vla_wm_ros.evaluation.grounding import evaluate_grounding, scene_items, text_items

    closer = VLMGrounder(VLMConfig(model_dir=vlm_dirs["close"]), suite, encoder)
    frames = {name: FRAME for name in suite.names}
    report = evaluate_grounding(closer, suite, frames, folds=5, progress=False)
    # The steered VLM always says drawer-close: right exactly where that is the answer.
    scene = scene_items(suite)
    want = sum(expected == "drawer-close" for _, _, expected in scene) / len(scene)
    assert report["image_dependent"]["accuracy"] == pytest.approx(want, abs=1e-4)
    assert report["image_dependent"]["instructions"] == len(scene)
    positives = [item for item in text_items(suite) if item[2] is not None]
    want = len(suite.task("drawer-close").instructions) / len(positives)
    assert report["text_only"]["accuracy"] == pytest.approx(want, abs=1e-4)
    assert report["text_only"]["negative_rejection"] == 0.0
    assert report["latency_ms"]["n"] == len(scene) + len(text_items(suite))


@pytest.mark.graph
def test_parser_node_grounds_the_latest_frame_with_the_vlm(ros_context, tmp_path, vlm_dirs):
    import threading

    from graph_fixtures import Probe, camera_image
    from rclpy.duration import Duration
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from vla_wm_interfaces.msg import Goal
    from vla_wm_interfaces.srv import SetGoal
    from vla_wm_ros.nodes.instruction_parser import InstructionParser
    from vla_wm_ros.ros import qos

    def parser(checkpoint):
        values = {
            "model_dir": str(checkpoint),
            "grounding.backend": "vlm",
            "grounding.vlm_dir": str(vlm_dirs["close"]),
        }
        return InstructionParser(
            context=ros_context,
            parameter_overrides=[Parameter(k, value=v) for k, v in values.items()],
        )

    other = GoalSpace("another-384-wide-encoder", "0123456789abcdef", 384)
    with pytest.raises(GoalSpaceMismatch, match="0123456789abcdef"):
        parser(_checkpoint(tmp_path / "wrong", other))
    node = parser(make_tiny_checkpoint(tmp_path / "ckpt"))
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    probe = Probe(ros_context)
    try:
        goals = probe.listen(Goal, "/instruction_parser/goal", qos.GOAL)
        request = SetGoal.Request(instruction="close it")
        reply = probe.call(SetGoal, "/instruction_parser/set_goal", request)
        assert not reply.accepted and "no current camera frame" in reply.message
        camera = probe.node.create_publisher(Image, "/image", qos.SENSOR)
        rng = np.random.default_rng(0)

        def publish(stamp) -> bool:
            msg = camera_image(rng)
            msg.header.stamp = stamp.to_msg()
            camera.publish(msg)
            return node._frame is not None and node._frame.header.stamp == msg.header.stamp

        old = node.get_clock().now() - Duration(seconds=60)
        assert probe.spin_until(lambda: publish(old), 10)
        reply = probe.call(SetGoal, "/instruction_parser/set_goal", request)
        assert not reply.accepted and "60.0 s old" in reply.message, reply.message
        fresh = node.get_clock().now()
        assert probe.spin_until(lambda: publish(fresh), 10)
        reply = probe.call(SetGoal, "/instruction_parser/set_goal", request)
        assert reply.accepted and reply.task == "drawer-close", reply.message
        assert probe.spin_until(lambda: goals and goals[-1].goal_id == reply.goal_id, 5)
        assert len(goals[-1].embedding) == 384
    finally:
        probe.close()
        executor.shutdown()
        node.destroy_node()


def test_bench_and_ground_commands_print_one_json_object(vlm_dirs, tmp_path, capsys):
    import json

    import imageio.v3 as iio

    from vla_wm_ros.cli import main

    vlm = ["--backend", "vlm", "--vlm-dir", str(vlm_dirs["close"])]
    bench = ["bench", "grounding", *vlm, "--calls", "4", "--warmup", "1", "--image-size", "32"]
    assert main([*bench, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["backend"] == "vlm" and report["dtype"] == "float32"
    assert report["latency_ms"]["n"] == 4 and report["latency_ms"]["p50_ms"] > 0
    frame = tmp_path / "frame.png"
    iio.imwrite(frame, FRAME)
    assert main(["ground", "close it", "--image", str(frame), *vlm, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "drawer-close" and result["accepted"]
    assert main(["ground", "close it", *vlm, "--json"]) == 1  # no image: refused
    assert "no current camera frame" in json.loads(capsys.readouterr().out)["reason"]
