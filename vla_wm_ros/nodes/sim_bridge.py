"""sim_bridge: the embedded Meta-World simulator as a ROS 2 node.

Publishes what a robot's drivers would (camera Image + CameraInfo, JointState, /clock)
and what evaluation needs (EpisodeStatus with reward and success, read from the
simulator, never from the planner); takes actions on `~/action`; serves `~/reset`.

step_mode timer: steps at step_frequency on the steady clock holding the last action
(zero after action_timeout), like a robot; on_action: one step per received action
(lock-step, so evaluation does not depend on the CPU keeping up). Both publish the
observation right after the step. An ended episode (success or step limit) holds until
the next reset.
"""

from __future__ import annotations

import math
import time

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.subscription import MessageInfo
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray

from vla_wm_interfaces.msg import EpisodeStatus
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

PARAMETERS = [
    Param("task", SimConfig.task, "Meta-World task at start (~/reset changes it)"),
    Param("seed", SimConfig.seed, "seed of the first episode", low=0, high=2**31 - 1),
    Param(
        "image_size", SimConfig.image_size, "side of the square camera image, px", low=8, high=1024
    ),
    Param("camera", SimConfig.camera, "'orbit' or a Meta-World camera name"),
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


def camera_fovy(env: MetaWorldEnv, camera: str) -> float:
    """Vertical field of view (degrees) of the rendering camera, from the MuJoCo model.

    The env wrapper does not expose its MuJoCo model, so this reads Meta-World's (the
    wrapped env's `model`): a named camera's own fovy, or the free camera's global one.
    """
    import mujoco

    model = env._env.model
    cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    return float(model.cam_fovy[cam_id]) if cam_id >= 0 else float(model.vis.global_.fovy)


def pinhole_intrinsics(fovy_deg: float, width: int, height: int) -> tuple[float, ...]:
    """(fx, fy, cx, cy) of MuJoCo's pinhole camera: square pixels, centred principal point."""
    fy = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return fy, fy, (width - 1) / 2, (height - 1) / 2


class SimBridge(GuardedCallbacks, Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_bridge", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self._rejections = Rejections(self.get_logger())
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._image_pub = self.create_publisher(Image, SIM_IMAGE, qos.SENSOR)
        self._info_pub = self.create_publisher(
            CameraInfo, SIM_IMAGE.rsplit("/", 1)[0] + "/camera_info", qos.SENSOR
        )
        self._joint_pub = self.create_publisher(JointState, SIM_JOINT_STATES, qos.STATUS)
        self._clock_pub = self.create_publisher(ClockMsg, "/clock", qos.STATUS)
        self._episode_pub = self.create_publisher(EpisodeStatus, "~/episode", qos.STATUS)
        self.create_subscription(Float64MultiArray, "~/action", self._on_action, qos.COMMAND)
        self.create_service(ResetEpisode, "~/reset", self._on_reset, qos_profile=qos.SERVICE)

        self._env: MetaWorldEnv | None = None
        self._fovy = 45.0
        self._task = ""
        self._seed = 0
        self._step = 0
        self._done = False
        self._sim_time_ns = 0
        self._action = np.zeros(0)
        self._action_time = -float("inf")
        self._step_ms: list[float] = []
        message = self._reset(self.p.task, self.p.seed)
        if message is not None:
            raise RuntimeError(f"sim_bridge cannot start: {message}")
        if self.p.step_mode == "timer":
            self.create_timer(1.0 / self.p.step_frequency, self._on_timer, clock=self._steady)
        self._diagnostics = diagnostics.Diagnostics(self, self._report, self.p.diagnostics_period)
        self.get_logger().info(
            f"{self._task} seed {self._seed}: {self._env.action_dim}-D actions, "
            f"step_mode {self.p.step_mode}"
        )

    # -- simulator -------------------------------------------------------------------------

    def _reset(self, task: str, seed: int) -> str | None:
        """Reset to (task, seed); None on success, else what went wrong (env unchanged)."""
        try:
            if self._env is None or task != self._task:
                env = MetaWorldEnv(
                    task=task,
                    seed=seed,
                    image_size=self.p.image_size,
                    camera=self.p.camera,
                    max_steps=self.p.max_steps,
                )
                if self._env is not None:
                    self._env.close()
                self._env, self._task = env, task
            obs = self._env.reset(seed=seed)
            self._fovy = camera_fovy(self._env, self.p.camera)
        except (ValueError, KeyError) as exc:
            return f"cannot reset to task {task!r} seed {seed}: {exc}"
        self._seed, self._step, self._done = seed, 0, False
        self._reset_wall_ns = time.time_ns()  # the clock DDS source timestamps are on
        # A reset takes a step of simulated time: stamps stay increasing and never zero.
        self._sim_time_ns += round(self._dt() * 1e9)
        self._action = np.zeros(self._env.action_dim)
        self._action_time = -float("inf")
        self._publish(obs, reward=0.0, success=False)
        return None

    def _step_once(self, action: np.ndarray) -> None:
        start = time.monotonic()
        result = self._env.step(action)
        self._step += 1
        self._sim_time_ns += round(self._dt() * 1e9)
        self._done = bool(result.done or result.success)
        self._publish(result.obs, reward=float(result.reward), success=bool(result.success))
        self._step_ms.append((time.monotonic() - start) * 1e3)
        del self._step_ms[:-100]

    def _dt(self) -> float:
        return 1.0 / self._env.fps

    def _publish(self, obs, reward: float, success: bool) -> None:
        stamp = ClockMsg()
        stamp.clock.sec, stamp.clock.nanosec = divmod(self._sim_time_ns, 1_000_000_000)
        self._clock_pub.publish(stamp)
        image = rgb_to_image(obs.image, self.p.encoding)
        image.header.stamp = stamp.clock
        image.header.frame_id = self.p.frame_id
        self._image_pub.publish(image)
        self._info_pub.publish(self._camera_info(image))
        joints = JointState(
            name=list(self._env.proprio_names), position=[float(v) for v in obs.proprio]
        )
        joints.header.stamp = stamp.clock
        self._joint_pub.publish(joints)
        status = EpisodeStatus(
            task=self._task,
            seed=self._seed,
            step=self._step,
            reward=reward,
            success=success,
            done=self._done,
        )
        status.header.stamp = stamp.clock
        self._episode_pub.publish(status)

    def _camera_info(self, image: Image) -> CameraInfo:
        fx, fy, cx, cy = pinhole_intrinsics(self._fovy, image.width, image.height)
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

    # -- callbacks -------------------------------------------------------------------------

    def _on_action(self, msg: Float64MultiArray, info: MessageInfo) -> None:
        if info["source_timestamp"] < self._reset_wall_ns:
            # Sent for the previous episode and still queued (a busy machine): stepping
            # the new one with it would take steps no tick of this episode chose.
            self._rejections.reject("action", "sent before the last reset")
            return
        action = np.asarray(msg.data, dtype=np.float64)
        if action.shape != (self._env.action_dim,):
            self._rejections.reject(
                "action", f"{action.size} values, the {self._task} env takes {self._env.action_dim}"
            )
            return
        if not np.all(np.isfinite(action)):
            self._rejections.reject("action", "non-finite values")
            return
        action = np.clip(action, -1.0, 1.0)
        if self.p.step_mode == "timer":
            self._action, self._action_time = action, time.monotonic()
        elif not self._done:
            self._step_once(action)

    def _on_timer(self) -> None:
        if self._done:
            return
        fresh = time.monotonic() - self._action_time <= self.p.action_timeout
        self._step_once(self._action if fresh else np.zeros_like(self._action))

    def _on_reset(
        self, request: ResetEpisode.Request, response: ResetEpisode.Response
    ) -> ResetEpisode.Response:
        task = request.task or self._task
        problem = self._reset(task, int(request.seed))
        response.success = problem is None
        response.message = problem or f"{task} seed {request.seed}"
        if problem:
            self.get_logger().warning(f"reset refused: {problem}")
        else:
            self.get_logger().info(f"reset: {response.message}")
        return response

    def _report(self) -> diagnostics.Report:
        values = {
            "task": self._task,
            "seed": self._seed,
            "step": self._step,
            "done": self._done,
            "step_mode": self.p.step_mode,
            **self._rejections.report(),
        }
        if self._step_ms:
            values["step_ms_mean"] = float(np.mean(self._step_ms))
        return diagnostics.OK, "episode running" if not self._done else "episode ended", values

    def destroy_node(self) -> None:
        """Free the renderer's GL context while EGL is still up (not at interpreter exit)."""
        if getattr(self, "_env", None) is not None:
            self._env.close()
            self._env = None
        super().destroy_node()


NODE_CLASS = SimBridge


def main(args: list[str] | None = None) -> None:
    run_node(SimBridge, args)


if __name__ == "__main__":
    main()
