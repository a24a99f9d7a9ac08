"""The Isaac Sim and Gazebo profiles on the real graph: the nodes subscribe and publish on
those bridges' default topic names and types (checked with the graph API), follow their
/clock, and a camera + joint states fed on those topics produce commands on the sink."""

from __future__ import annotations

import numpy as np
import pytest
from graph_fixtures import Probe, camera_image, make_tiny_checkpoint, start_graph

pytestmark = [pytest.mark.graph, pytest.mark.slow]

JOINTS = ["ee_x", "ee_y", "ee_z", "gripper"]
PROFILES = {
    # sim: (image topic, joint_states topic, clock topic, sink topic, sink type)
    "isaac": ("/rgb", "/joint_states", "/clock", "/joint_command", "sensor_msgs/msg/JointState"),
    "gazebo": (
        "/camera",
        "/joint_states",
        "/clock",
        "/joint_trajectory",
        "trajectory_msgs/msg/JointTrajectory",
    ),
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def _endpoints(probe, topic: str, kind: str) -> dict[str, set[str]]:
    """{node name: message types} of the publishers or subscriptions of one topic."""
    found: dict[str, set[str]] = {}
    for info in getattr(probe.node, f"get_{kind}_info_by_topic")(topic):
        found.setdefault(info.node_name, set()).add(info.topic_type)
    return found


@pytest.mark.parametrize("sim", sorted(PROFILES))
def test_profile_topics_types_clock_and_commands(sim, model_dir):
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image, JointState
    from trajectory_msgs.msg import JointTrajectory

    from vla_wm_interfaces.msg import LatentState
    from vla_wm_interfaces.srv import SetGoal

    image_topic, joints_topic, clock_topic, sink_topic, sink_type = PROFILES[sim]
    graph = start_graph(sim, model_dir)
    probe = Probe(graph.context)
    try:
        nodes = set(graph.nodes)
        assert "sim_bridge" not in nodes, "a robot profile must not start our simulator"

        # Asked per topic, not per node name: a node of the same name from the previous
        # test's graph can linger in the graph cache for a while after it was destroyed.
        def wired() -> bool:
            clock_subs = _endpoints(probe, clock_topic, "subscriptions")
            return (
                "camera_encoder" in _endpoints(probe, image_topic, "subscriptions")
                and "planner" in _endpoints(probe, sink_topic, "publishers")
                and nodes <= set(clock_subs)
            )

        assert probe.spin_until(wired, 30), sorted(_endpoints(probe, clock_topic, "subscriptions"))
        assert _endpoints(probe, image_topic, "subscriptions")["camera_encoder"] == {
            "sensor_msgs/msg/Image"
        }
        estimator = _endpoints(probe, joints_topic, "subscriptions")["state_estimator"]
        assert estimator == {"sensor_msgs/msg/JointState"}
        assert _endpoints(probe, sink_topic, "publishers")["planner"] == {sink_type}
        clock_subs = _endpoints(probe, clock_topic, "subscriptions")
        for name in nodes:  # use_sim_time: every node follows the bridge's clock
            assert clock_subs[name] == {"rosgraph_msgs/msg/Clock"}

        message_type = JointState if sim == "isaac" else JointTrajectory
        commands = probe.listen(message_type, sink_topic)
        clock_pub = probe.node.create_publisher(Clock, clock_topic, 10)
        image_pub = probe.node.create_publisher(Image, image_topic, 10)
        joint_pub = probe.node.create_publisher(JointState, joints_topic, 10)
        rng = np.random.default_rng(0)
        sim_time_ns = [100_000_000_000]  # the bridge's clock starts at 100 s

        def feed():
            sim_time_ns[0] += 100_000_000
            clock = Clock()
            clock.clock.sec, clock.clock.nanosec = divmod(sim_time_ns[0], 1_000_000_000)
            clock_pub.publish(clock)
            image = camera_image(rng)
            image.header.stamp = clock.clock
            image_pub.publish(image)
            # Extra joints in another order: the profile picks its own by name.
            joint_pub.publish(
                JointState(name=["elbow", *reversed(JOINTS)], position=[9.0, 0.4, 0.3, 0.2, 0.1])
            )

        probe.node.create_timer(0.1, feed)
        reply = probe.call(
            SetGoal, "/instruction_parser/set_goal", SetGoal.Request(instruction="open the drawer")
        )
        assert reply.accepted, reply.message
        latents = probe.listen(LatentState, "/state_estimator/latent")
        assert probe.spin_until(lambda: len(latents) >= 2 and len(commands) >= 5, 20)
        assert list(latents[-1].proprio) == pytest.approx([0.1, 0.2, 0.3, 0.4])
        command = commands[-1]
        assert command.header.stamp.sec >= 100, "stamps do not follow the bridge's /clock"
        if sim == "isaac":
            assert list(command.name) == JOINTS
            position = np.array(command.position)
        else:
            assert list(command.joint_names) == JOINTS and len(command.points) == 1
            assert command.points[0].time_from_start.nanosec == 100_000_000  # one period
            position = np.array(command.points[0].positions)
        # Position commands: one step (<= 0.01 m) from the measured end effector, clamped to
        # the workspace (y >= 0.2), gripper within its open..closed range; never zeros.
        measured = np.clip([0.1, 0.2, 0.3], [-0.5, 0.2, 0.0], [0.5, 1.0, 0.6])
        assert np.abs(position[:3] - measured).max() <= 0.01 + 1e-9
        assert 0.0 <= position[3] <= 0.04 and position[1] >= 0.2
    finally:
        probe.close()
        graph.close()


def _action_client(probe):
    from rclpy.action import ActionClient

    from vla_wm_interfaces.action import ExecuteInstruction

    client = ActionClient(probe.node, ExecuteInstruction, "/instruction_parser/execute")
    assert probe.spin_until(client.server_is_ready, 20)
    return client, ExecuteInstruction


def test_without_a_simulator_success_is_the_learned_signal(model_dir):
    """ExecuteInstruction on a robot profile: success is the learned signal (threshold
    forced low: the tiny checkpoint is random, only the mechanism is under test)."""
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image, JointState

    graph = start_graph(
        "isaac",
        model_dir,
        overrides={"instruction_parser": {"success_reward": -1e6, "success_ticks": 3}},
    )
    probe = Probe(graph.context)
    try:
        clock_pub = probe.node.create_publisher(Clock, "/clock", 10)
        image_pub = probe.node.create_publisher(Image, "/rgb", 10)
        joint_pub = probe.node.create_publisher(JointState, "/joint_states", 10)
        rng = np.random.default_rng(0)
        now = [100_000_000_000]

        def feed():
            now[0] += 100_000_000
            clock = Clock()
            clock.clock.sec, clock.clock.nanosec = divmod(now[0], 1_000_000_000)
            clock_pub.publish(clock)
            image = camera_image(rng)
            image.header.stamp = clock.clock
            image_pub.publish(image)
            joint_pub.publish(JointState(name=["ee_x", "ee_y", "ee_z", "gripper"],
                                         position=[0.0, 0.6, 0.2, 1.0]))  # fmt: skip

        probe.node.create_timer(0.1, feed)
        client, ExecuteInstruction = _action_client(probe)
        feedback = []
        sent = client.send_goal_async(
            ExecuteInstruction.Goal(instruction="open the drawer"),
            feedback_callback=lambda m: feedback.append(m.feedback),
        )
        assert probe.spin_until(sent.done, 20) and sent.result().accepted
        result = sent.result().get_result_async()
        assert probe.spin_until(result.done, 30)
        out = result.result().result
        assert out.success and "learned signal" in out.message, out.message
        assert out.steps >= 3 and feedback[-1].status in ("ok", "deadline")
    finally:
        probe.close()
        graph.close()


def test_servo_profile_pose_proprio_twist_and_gripper_topic(model_dir):
    """MoveIt Servo profile: the end effector from a PoseStamped and the gripper from
    joint_states make the proprioception; velocity commands go out as TwistStamped in
    base_link (at most metres_per_unit / period per axis), the gripper on its own topic."""
    from geometry_msgs.msg import PoseStamped, TwistStamped
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import Float64MultiArray

    from vla_wm_interfaces.msg import LatentState
    from vla_wm_interfaces.srv import SetGoal

    graph = start_graph("servo", model_dir)
    probe = Probe(graph.context)
    try:
        twists = probe.listen(TwistStamped, "/servo_node/delta_twist_cmds")
        grippers = probe.listen(Float64MultiArray, "/gripper_controller/commands")
        latents = probe.listen(LatentState, "/state_estimator/latent")
        image_pub = probe.node.create_publisher(Image, "/camera/image_raw", 10)
        pose_pub = probe.node.create_publisher(PoseStamped, "/ee_pose", 10)
        joint_pub = probe.node.create_publisher(JointState, "/joint_states", 10)
        rng = np.random.default_rng(0)

        def feed():
            pose = PoseStamped()
            pose.header.frame_id = "base_link"
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = 0.05, 0.6, 0.25
            pose_pub.publish(pose)
            joint_pub.publish(JointState(name=["elbow", "gripper"], position=[1.0, 0.7]))
            image = camera_image(rng)
            image.header.stamp = probe.node.get_clock().now().to_msg()
            image_pub.publish(image)

        probe.node.create_timer(0.1, feed)
        reply = probe.call(
            SetGoal, "/instruction_parser/set_goal", SetGoal.Request(instruction="open the drawer")
        )
        assert reply.accepted, reply.message
        assert probe.spin_until(lambda: len(latents) >= 2 and len(twists) >= 5, 20)
        assert list(latents[-1].proprio) == pytest.approx([0.05, 0.6, 0.25, 0.7])
        assert twists[-1].header.frame_id == "base_link"
        linear = [[t.twist.linear.x, t.twist.linear.y, t.twist.linear.z] for t in twists]
        assert np.abs(linear).max() <= 0.01 / 0.1 + 1e-9  # metres_per_unit / period
        assert all(t.twist.angular.z == 0.0 for t in twists)
        assert probe.spin_until(lambda: len(grippers) >= 2, 10)
        assert all(0.0 <= g.data[0] <= 0.04 for g in grippers)  # closed .. open
    finally:
        probe.close()
        graph.close()
