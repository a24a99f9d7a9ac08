"""A camera and a robot for the control-loop benchmark: frames in, actions timed out.

`LoopProbe` publishes a recorded frame and its joint state at a fixed rate, stamped with
the time it sent them, and listens to what the graph makes of each frame on its own
topics: the Embedding and the LatentState (both carry the frame's stamp) and the command
on the action sink. Per frame it records when each arrived, so every stage (encode,
filter, plan) and the whole path image in -> action out is timed through ROS, as a
robot's driver would see it. The planner must run with `trigger: belief` so that an
action answers a frame rather than a timer phase.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import Embedding, LatentState
from vla_wm_ros.bench.control_loop import FrameTimes
from vla_wm_ros.ros import qos
from vla_wm_ros.ros.graph import EMBEDDING, LATENT


class LoopProbe(Node):
    def __init__(
        self,
        frames: list[np.ndarray],
        proprio: list[np.ndarray],
        rate_hz: float,
        topics: tuple[str, str, str],
        **kwargs,
    ) -> None:
        """`topics`: the (image, joint_states, action) topic names of the profile."""
        super().__init__("loop_probe", **kwargs)
        if not frames or len(frames) != len(proprio):
            raise ValueError("LoopProbe needs frames and one proprioception vector each")
        self._frames, self._proprio = frames, proprio
        self.frames: list[FrameTimes] = []
        self._by_stamp: dict[tuple[int, int], FrameTimes] = {}
        self._running = False
        image_topic, joints_topic, action_topic = topics
        self._image_pub = self.create_publisher(Image, image_topic, qos.SENSOR)
        self._joints_pub = self.create_publisher(JointState, joints_topic, qos.STATE)
        self.create_subscription(Embedding, EMBEDDING, self._on_embedding, qos.SENSOR)
        self.create_subscription(LatentState, LATENT, self._on_latent, qos.STATE)
        self.create_subscription(Float64MultiArray, action_topic, self._on_action, qos.COMMAND)
        self.create_timer(
            1.0 / rate_hz, self._on_tick, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

    def _on_tick(self) -> None:
        if not self._running:
            return
        i = len(self.frames) % len(self._frames)
        stamp = self.get_clock().now().to_msg()
        joints = JointState(position=[float(v) for v in self._proprio[i]])
        joints.header.stamp = stamp
        rgb = self._frames[i]
        image = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0)
        image.step = rgb.shape[1] * 3
        image.data = rgb.tobytes()
        image.header.stamp = stamp
        times = FrameTimes(sent=time.monotonic())
        self.frames.append(times)
        self._by_stamp[(stamp.sec, stamp.nanosec)] = times
        self._joints_pub.publish(joints)
        self._image_pub.publish(image)

    def _frame(self, header) -> FrameTimes | None:
        return self._by_stamp.get((header.stamp.sec, header.stamp.nanosec))

    def _on_embedding(self, msg: Embedding) -> None:
        frame = self._frame(msg.header)
        if frame is not None and frame.embedding is None:
            frame.embedding = time.monotonic()

    def _on_latent(self, msg: LatentState) -> None:
        frame = self._frame(msg.header)
        if frame is not None and frame.latent is None and not msg.predicted_only:
            frame.latent = time.monotonic()

    def _on_action(self, msg: Float64MultiArray) -> None:
        """The action answers the newest frame whose belief is out and not yet answered."""
        now = time.monotonic()
        for frame in reversed(self.frames):
            if frame.latent is not None:
                if frame.action is None:
                    frame.action = now
                return
