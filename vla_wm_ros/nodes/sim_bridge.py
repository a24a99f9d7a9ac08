"""sim_bridge: the embedded Meta-World simulator as a ROS 2 node.

Publishes what a robot's drivers would (camera Image + CameraInfo, JointState, /clock)
and what evaluation needs (EpisodeStatus with reward and success, read from the
simulator, never from the planner); takes actions on `~/action`; serves `~/reset`.

step_mode timer: steps at step_frequency on the steady clock holding the last action
(zero after action_timeout), like a robot; on_action: one step per received action
(lock-step, so evaluation does not depend on the CPU keeping up). Both publish the
observation right after the step. An ended episode (success or step limit) holds until
the next reset or a new goal.

The images are rendered as the training images of the model at `model_dir` were (its
meta.yaml `observation`: camera, image size, goal-marker size; sim/observation.py); the
graph passes the planner's model. camera / image_size / goal_marker_radius force other
settings, with a warning naming both.

A new goal (on the goal topic, however it was given: SetGoal, ExecuteInstruction)
starts a fresh episode of its grounded task with the next seed, unless an episode reset
through `~/reset` waits for a goal of that task: then the goal claims it (evaluation
resets to a chosen placement, then sends the instruction; sim/episode.py). Every
EpisodeStatus names the goal its episode serves. The stop goal (empty id) changes
nothing here: the planner holds. Actions sent before the running episode began (queued
for the previous one on a busy machine), or while a reset episode waits for its goal, are
dropped, so every step is one of its goal's ticks.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.subscription import MessageInfo
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import EpisodeStatus, Goal
from vla_wm_interfaces.srv import ResetEpisode
from vla_wm_ros.ros import diagnostics, qos
from vla_wm_ros.ros.callback_guard import GuardedCallbacks
from vla_wm_ros.ros.graph import SIM_IMAGE, SIM_JOINT_STATES
from vla_wm_ros.ros.image_conversion import ENCODINGS, rgb_to_image
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import Param, declare_parameters
from vla_wm_ros.ros.rejections import Rejections
from vla_wm_ros.sim.config import SimConfig
from vla_wm_ros.sim.env import MetaWorldEnv
from vla_wm_ros.sim.episode import Frame, SimEpisode
from vla_wm_ros.sim.observation import model_dir_observation

PARAMETERS = [
    Param("task", SimConfig.task, "Meta-World task at start (~/reset changes it)"),
    Param("seed", SimConfig.seed, "seed of the first episode", low=0, high=2**31 - 1),
    Param(
        "model_dir",
        "",
        "checkpoint whose training images the simulator renders like (meta.yaml observation: "
        "camera, image size, goal marker); empty: the shipped model",
    ),
    Param("image_size", 0, "side of the square camera image, px; 0: the model's", low=0, high=1024),
    Param("camera", "", "'orbit', 'orbit-near' or a Meta-World camera name; empty: the model's"),
    Param(
        "goal_marker_radius",
        -1.0,
        "radius the goal marker is drawn with, m; 0: Meta-World's own; negative: the model's",
        low=-1.0,
        high=0.2,
    ),
    Param(
        "step_mode",
        "timer",
        "timer: step at step_frequency holding the last action; on_action: one step per action",
        choices=("timer", "on_action"),
    ),
    Param("step_frequency", 10.0, "steps per second in step_mode timer (Hz)", low=0.1, high=1000.0),
    Param(
        "action_timeout",
        0.5,
        "step_mode timer: an action older than this (s) is replaced by hold (zeros)",
        low=0.0,
        high=60.0,
    ),
    Param("max_steps", SimConfig.max_steps, "steps after which an episode ends", low=1, high=10**6),
    Param("encoding", "rgb8", "encoding of the published Image", choices=tuple(ENCODINGS)),
    Param("frame_id", "camera", "frame of the camera image"),
    Param("diagnostics_period", 1.0, "seconds between /diagnostics reports", low=0.1, high=60.0),
]


class SimBridge(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_bridge", **kwargs)
        p = self.p = declare_parameters(self, PARAMETERS)
        self._rejections = Rejections(self.get_logger())
        self._image_pub = self.create_publisher(Image, SIM_IMAGE, qos.SENSOR)
        self._info_pub = self.create_publisher(
            CameraInfo, SIM_IMAGE.rsplit("/", 1)[0] + "/camera_info", qos.SENSOR
        )
        self._joint_pub = self.create_publisher(JointState, SIM_JOINT_STATES, qos.STATUS)
        self._clock_pub = self.create_publisher(ClockMsg, "/clock", qos.STATUS)
        self._episode_pub = self.create_publisher(EpisodeStatus, "~/episode", qos.STATUS)
        self.create_subscription(Float64MultiArray, "~/action", self._on_action, qos.COMMAND)
        self.create_service(ResetEpisode, "~/reset", self._on_reset, qos_profile=qos.SERVICE)
        self.create_subscription(Goal, "goal", self._on_goal, qos.GOAL)

        # Rendered as the model's training images were, unless the parameters force else.
        seen, warnings = model_dir_observation(
            p.model_dir, p.camera, p.image_size, p.goal_marker_radius
        )
        for warning in warnings:
            self.get_logger().warning(warning)
        self.observation = seen

        def make_env(task: str, seed: int) -> MetaWorldEnv:
            return MetaWorldEnv(task, seed, max_steps=p.max_steps, **seen.sim_kwargs())

        self._sim = SimEpisode(make_env, p.action_timeout)
        first = self._sim.reset(p.task, p.seed)
        if isinstance(first, str):
            raise RuntimeError(f"sim_bridge cannot start: {first}")
        self._start(first)
        if p.step_mode == "timer":
            steady = Clock(clock_type=ClockType.STEADY_TIME)
            self.create_timer(1.0 / p.step_frequency, self._on_timer, clock=steady)
        self._diagnostics = diagnostics.Diagnostics(self, self._report, p.diagnostics_period)
        self.get_logger().info(
            f"{self._sim.task} seed {self._sim.seed}: {self._sim.env.action_dim}-D actions, "
            f"step_mode {p.step_mode}; renders {seen.to_meta()}"
        )

    def _start(self, frame: Frame) -> None:
        """A new episode's first frame; actions sent before it are dropped (_on_action)."""
        self._reset_wall_ns = time.time_ns()  # the clock DDS source timestamps are on
        self._publish(frame)

    def _publish(self, frame: Frame | None) -> None:
        if frame is None:
            return
        stamp = ClockMsg()
        stamp.clock.sec, stamp.clock.nanosec = divmod(frame.sim_time_ns, 1_000_000_000)
        self._clock_pub.publish(stamp)
        # Joints before the image, as a robot's faster joint stream would: the frame's
        # belief then folds the joints measured with it (state_estimator pairs by stamp).
        joints = JointState(
            name=list(self._sim.env.proprio_names),
            position=[float(v) for v in frame.obs.proprio],
        )
        joints.header.stamp = stamp.clock
        self._joint_pub.publish(joints)
        image = rgb_to_image(frame.obs.image, self.p.encoding)
        image.header.stamp = stamp.clock
        image.header.frame_id = self.p.frame_id
        self._image_pub.publish(image)
        self._info_pub.publish(self._camera_info(image))
        sim = self._sim
        status = EpisodeStatus(
            goal_id=sim.goal_id,
            task=sim.task,
            seed=sim.seed,
            step=sim.step,
            reward=frame.reward,
            success=frame.success,
            done=sim.done,
        )
        status.header.stamp = stamp.clock
        self._episode_pub.publish(status)

    def _camera_info(self, image: Image) -> CameraInfo:
        fx, fy, cx, cy = self._sim.env.camera_intrinsics(image.width, image.height)
        info = CameraInfo(
            header=image.header,
            height=image.height,
            width=image.width,
            distortion_model="plumb_bob",
            d=[0.0] * 5,
        )
        info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    def _on_action(self, msg: Float64MultiArray, info: MessageInfo) -> None:
        if info["source_timestamp"] < self._reset_wall_ns:
            # Sent for the previous episode and still queued (a busy machine): stepping
            # the new one with it would take steps no tick of this episode chose.
            self._rejections.reject("action", "sent before the last reset or new episode")
            return
        action = self._sim.check_action(list(msg.data))
        if isinstance(action, str):
            self._rejections.reject("action", action)
        elif self.p.step_mode == "timer":
            self._sim.hold(action)
        else:
            self._publish(self._sim.step_with(action))

    def _on_timer(self) -> None:
        self._publish(self._sim.step_held())

    def _on_reset(
        self, request: ResetEpisode.Request, response: ResetEpisode.Response
    ) -> ResetEpisode.Response:
        task = request.task or self._sim.task
        frame = self._sim.reset(task, int(request.seed), claimable=True)
        response.success = not isinstance(frame, str)
        response.message = f"{task} seed {request.seed}" if response.success else frame
        if response.success:
            self._start(frame)
            self.get_logger().info(f"reset: {response.message}")
        else:
            self.get_logger().warning(f"reset refused: {frame}")
        return response

    def _on_goal(self, msg: Goal) -> None:
        if not msg.goal_id:
            return
        frame = self._sim.start_goal(msg.goal_id, msg.task)
        if isinstance(frame, str):
            self._rejections.reject("goal", frame)
        elif frame is not None:
            self._start(frame)
            self.get_logger().info(
                f"goal {msg.goal_id}: fresh episode of {msg.task} seed {self._sim.seed}"
            )

    def _report(self) -> diagnostics.Report:
        sim = self._sim
        values = {
            "task": sim.task,
            "seed": sim.seed,
            "goal_id": sim.goal_id or "-",
            "step": sim.step,
            "done": sim.done,
            "step_mode": self.p.step_mode,
            **self._rejections.report(),
        }
        if sim.step_ms:
            values["step_ms_mean"] = float(np.mean(sim.step_ms))
        return diagnostics.OK, "episode running" if not sim.done else "episode ended", values

    def destroy_node(self) -> None:
        """Free the renderer's GL context while EGL is still up (not at interpreter exit)."""
        if hasattr(self, "_sim"):
            self._sim.close()
        super().destroy_node()


NODE_CLASS = SimBridge


def main(args: list[str] | None = None) -> None:
    run_node(SimBridge, args)


if __name__ == "__main__":
    main()
