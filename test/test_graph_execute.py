"""Goals as a ROS 2 action on the real graph (rclpy over DDS, embedded Meta-World).

ExecuteInstruction gives feedback on every planner tick and a result; cancel makes the
planner hold from its next tick; `~/stop` holds; a goal given by the SetGoal service
starts a fresh episode of its grounded task (the README flow). The learned success signal
(no simulator) is tested on the isaac profile in test_graph_profiles.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from graph_fixtures import Probe, make_tiny_checkpoint, start_graph

pytestmark = [pytest.mark.graph, pytest.mark.slow]

MAX_STEPS = 30


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def rig(model_dir):
    from nav_msgs.msg import Path
    from std_msgs.msg import Float64MultiArray
    from visualization_msgs.msg import MarkerArray

    from vla_wm_interfaces.msg import EpisodeStatus, PlanStatus

    graph = start_graph("mujoco", model_dir, overrides={"sim_bridge": {"max_steps": MAX_STEPS}})
    probe = Probe(graph.context)
    probe.listen(EpisodeStatus, "/sim_bridge/episode")
    probe.listen(PlanStatus, "/planner/plan_status")
    probe.listen(Float64MultiArray, "/sim_bridge/action")
    probe.listen(Path, "/planner/plan_path")
    probe.listen(MarkerArray, "/planner/plan_markers")
    yield probe
    probe.close()
    graph.close()


def test_set_goal_service_starts_a_fresh_episode_of_the_grounded_task(rig):
    from vla_wm_interfaces.srv import SetGoal

    episodes = rig.heard["/sim_bridge/episode"]
    assert rig.spin_until(lambda: episodes, 20)
    assert episodes[-1].task == "button-press-topdown" and episodes[-1].goal_id == ""
    start_seed = episodes[-1].seed
    reply = rig.call(SetGoal, "/instruction_parser/set_goal", SetGoal.Request(
        instruction="open the drawer"))  # fmt: skip
    assert reply.accepted and reply.task == "drawer-open", reply.message
    mine = lambda: [e for e in episodes if e.goal_id == reply.goal_id]  # noqa: E731
    assert rig.spin_until(lambda: len(mine()) >= 3, 20), "no episode for the new goal"
    first = mine()[0]
    assert first.task == "drawer-open" and first.step == 0 and first.seed == start_seed + 1
    assert [e.step for e in mine()[:3]] == [0, 1, 2]


def _client(rig):
    from rclpy.action import ActionClient

    from vla_wm_interfaces.action import ExecuteInstruction

    client = ActionClient(rig.node, ExecuteInstruction, "/instruction_parser/execute")
    assert rig.spin_until(client.server_is_ready, 20)
    return client, ExecuteInstruction


def test_action_feedback_then_result_when_the_episode_ends(rig):
    client, ExecuteInstruction = _client(rig)
    feedback = []
    sent = client.send_goal_async(
        ExecuteInstruction.Goal(instruction="press the button from the top"),
        feedback_callback=lambda m: feedback.append(m.feedback),
    )
    assert rig.spin_until(sent.done, 20) and sent.result().accepted
    result = sent.result().get_result_async()
    assert rig.spin_until(result.done, MAX_STEPS / 10 + 30), "no result"
    out = result.result().result
    assert not out.success and f"episode ended after {MAX_STEPS} steps" in out.message
    assert out.steps == MAX_STEPS and out.goal_id
    assert feedback[0].task == "button-press-topdown" and feedback[0].goal_id == out.goal_id
    steps = [f.step for f in feedback]
    assert steps == sorted(steps) and steps[-1] == MAX_STEPS
    assert {f.status for f in feedback[1:]} <= {"ok", "deadline", "no_goal", "stale_state"}
    assert any(f.status in ("ok", "deadline") for f in feedback)
    assert all(np.isfinite(f.predicted_return) for f in feedback)


def test_cancel_holds_from_the_next_tick(rig):
    client, ExecuteInstruction = _client(rig)
    plans = rig.heard["/planner/plan_status"]
    feedback = []
    sent = client.send_goal_async(
        ExecuteInstruction.Goal(instruction="open the drawer"),
        feedback_callback=lambda m: feedback.append(m.feedback),
    )
    assert rig.spin_until(sent.done, 20) and sent.result().accepted
    assert rig.spin_until(lambda: sum(f.status == "ok" for f in feedback) >= 3, 30)
    goal_id = feedback[0].goal_id
    cancel = sent.result().cancel_goal_async()
    assert rig.spin_until(cancel.done, 10)
    cancelled_at, seen = time.monotonic(), len(plans)
    result = sent.result().get_result_async()
    assert rig.spin_until(result.done, 10)
    assert result.result().result.message == "cancelled" and not result.result().result.success
    holds = lambda: [p for p in plans[seen:] if p.goal_id != goal_id]  # noqa: E731
    assert rig.spin_until(lambda: len(holds()) >= 3, 10), "the planner stopped ticking"
    # At most the tick already under way when the cancel arrived still serves the goal.
    assert sum(p.goal_id == goal_id for p in plans[seen:]) <= 1
    assert all(p.planner == "safe" and p.status == 1 for p in holds()), [
        (p.goal_id, p.status, p.planner) for p in holds()
    ]  # NO_GOAL
    rig.spin_for(0.4)  # commands and statuses are separate topics: let both catch up
    actions = rig.heard["/sim_bridge/action"][-3:]
    sent = [list(a.data) for a in actions]
    assert all(a == [0.0, 0.0, 0.0, 0.0] for a in sent), sent
    assert time.monotonic() - cancelled_at < 5


def test_stop_service_holds(rig):
    from std_srvs.srv import Trigger

    from vla_wm_interfaces.srv import SetGoal

    plans = rig.heard["/planner/plan_status"]
    reply = rig.call(SetGoal, "/instruction_parser/set_goal", SetGoal.Request(
        instruction="open the drawer"))  # fmt: skip
    assert rig.spin_until(lambda: any(p.goal_id == reply.goal_id for p in plans[-5:]), 20)
    stop = rig.call(Trigger, "/instruction_parser/stop", Trigger.Request())
    assert stop.success and reply.goal_id in stop.message
    seen = len(plans)
    rig.spin_for(0.6)
    assert sum(p.goal_id == reply.goal_id for p in plans[seen:]) <= 1
    assert plans[-1].status == 1 and plans[-1].goal_id == ""  # NO_GOAL: holding


def test_plan_visualisation_is_published_throttled_with_finite_points(rig):
    from vla_wm_interfaces.srv import SetGoal

    paths, markers = rig.heard["/planner/plan_path"], rig.heard["/planner/plan_markers"]
    reply = rig.call(SetGoal, "/instruction_parser/set_goal", SetGoal.Request(
        instruction="open the drawer"))  # fmt: skip
    assert reply.accepted
    assert rig.spin_until(lambda: len(paths) >= 2 and len(markers) >= 2, 20)
    seen, start = len(paths), rig.times["/planner/plan_path"][-1]
    rig.spin_for(2.0)
    span = rig.times["/planner/plan_path"][-1] - start
    assert len(paths) - seen <= span / 0.5 + 1, "not throttled to visualization.period"
    path = paths[-1]
    assert path.header.frame_id == "world" and len(path.poses) >= 2
    xyz = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z] for p in path.poses])
    assert np.all(np.isfinite(xyz))
    line, spheres = markers[-1].markers
    assert len(line.points) == len(path.poses) == len(line.colors) == len(spheres.colors)
    assert line.ns.startswith("vla_wm_plan/") and spheres.header.frame_id == "world"
    colours = np.array([[c.r, c.g, c.b] for c in line.colors[1:]])
    assert np.all((colours >= 0) & (colours <= 1)) and np.ptp(colours[:, 1]) > 0  # by reward


def test_plan_topics_record_into_a_readable_bag(rig, tmp_path):
    from nav_msgs.msg import Path
    from visualization_msgs.msg import MarkerArray

    from vla_wm_ros.ros.topic_recorder import read, record

    topics = {"/planner/plan_path": Path, "/planner/plan_markers": MarkerArray}
    bag = tmp_path / "plan_bag"
    counts = record(rig.node, lambda: rig.executor.spin_once(timeout_sec=0.02), topics, bag, 1.6)
    assert counts["/planner/plan_path"] >= 2
    paths = [m for t, m in read(bag, {"/planner/plan_path"})]
    assert len(paths) == counts["/planner/plan_path"] and len(paths[-1].poses) >= 2
