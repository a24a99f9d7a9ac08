"""Our own interfaces over a real ROS 2 graph: rclpy, Fast DDS on loopback."""

from __future__ import annotations

import math

import pytest

from vla_wm_ros.ros.spin import spin_until

pytestmark = pytest.mark.graph


def test_nodes_exchange_our_messages(ros_context, executor):
    from rclpy.node import Node
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

    from vla_wm_interfaces.msg import Embedding, Goal, LatentState, PlanStatus

    talker = Node("talker", context=ros_context)
    listener = Node("listener", context=ros_context)
    executor.add_node(talker)
    executor.add_node(listener)

    received: dict[str, object] = {}
    latched = QoSProfile(
        depth=1,
        reliability=QoSReliabilityPolicy.RELIABLE,
        durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
    )
    for msg_type, topic, qos in [
        (Embedding, "embedding", 10),
        (LatentState, "latent", 10),
        (PlanStatus, "plan_status", 10),
        (Goal, "goal", latched),
    ]:
        listener.create_subscription(
            msg_type, topic, lambda m, t=topic: received.setdefault(t, m), qos
        )

    emb = Embedding(encoder_id="abc123", data=[0.5, -1.25, 3.0])
    emb.header.frame_id = "camera"
    emb.header.stamp.sec = 42
    latent = LatentState(goal_id="g1", step=7, deter=[1.0] * 8, stoch=[0.0] * 4, frames_missed=2)
    latent.predicted_only = True
    status = PlanStatus(
        goal_id="g1", status=PlanStatus.STALE_STATE, reason="latent 300 ms old", planner="safe"
    )
    status.action = [0.0, 0.0, 0.0, -1.0]
    goal = Goal(goal_id="g1", instruction="open the drawer", task="drawer-open", confidence=0.9)
    goal.embedding = [0.1] * 384

    pubs = {
        "embedding": (talker.create_publisher(Embedding, "embedding", 10), emb),
        "latent": (talker.create_publisher(LatentState, "latent", 10), latent),
        "plan_status": (talker.create_publisher(PlanStatus, "plan_status", 10), status),
    }
    talker.create_publisher(Goal, "goal", latched).publish(goal)  # once: must arrive latched

    def publish_and_check() -> bool:
        for topic, (pub, msg) in pubs.items():
            if topic not in received:
                pub.publish(msg)
        return len(received) == 4

    assert spin_until(executor, publish_and_check, timeout=15), f"got only {sorted(received)}"
    got = received["embedding"]
    assert got.encoder_id == "abc123" and got.header.frame_id == "camera"
    assert got.header.stamp.sec == 42
    assert list(got.data) == pytest.approx([0.5, -1.25, 3.0])
    assert received["latent"].step == 7 and received["latent"].predicted_only
    assert received["latent"].frames_missed == 2 and len(received["latent"].deter) == 8
    assert received["plan_status"].status == PlanStatus.STALE_STATE
    assert received["plan_status"].reason == "latent 300 ms old"
    assert received["goal"].task == "drawer-open" and len(received["goal"].embedding) == 384
    assert math.isclose(received["goal"].confidence, 0.9, rel_tol=1e-6)


def test_set_goal_service_round_trip(ros_context, executor):
    from rclpy.node import Node

    from vla_wm_interfaces.srv import SetGoal

    server = Node("goal_server", context=ros_context)
    client_node = Node("goal_client", context=ros_context)
    executor.add_node(server)
    executor.add_node(client_node)

    seen: list[str] = []

    def handle(request: SetGoal.Request, response: SetGoal.Response) -> SetGoal.Response:
        seen.append(request.instruction)
        response.accepted = bool(request.instruction.strip())
        response.goal_id = "g-1" if response.accepted else ""
        response.task = "drawer-open" if response.accepted else ""
        response.confidence = 0.75 if response.accepted else 0.0
        response.message = "ok" if response.accepted else "empty instruction"
        return response

    server.create_service(SetGoal, "set_goal", handle)
    client = client_node.create_client(SetGoal, "set_goal")
    assert spin_until(executor, client.service_is_ready, timeout=15), "service never appeared"

    for text, accepted in [("open the drawer", True), ("   ", False)]:
        future = client.call_async(SetGoal.Request(instruction=text))
        assert spin_until(executor, future.done, timeout=10), f"no response for {text!r}"
        response = future.result()
        assert response.accepted is accepted
        assert response.message == ("ok" if accepted else "empty instruction")
        if accepted:
            assert response.goal_id == "g-1" and response.task == "drawer-open"
            assert response.confidence == pytest.approx(0.75)
    assert seen == ["open the drawer", "   "]
