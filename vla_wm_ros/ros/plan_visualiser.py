"""The planner's plan visualisation: the chosen plan's imagined end-effector path as
nav_msgs/Path on `~/plan_path` and a MarkerArray on `~/plan_markers` (ros/plan_markers),
at most once per `visualization.period`, off by parameter or when the model cannot
decode a path (control/plan_preview.can_preview)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
from nav_msgs.msg import Path
from visualization_msgs.msg import MarkerArray

from vla_wm_ros.control.control_loop import Belief, Tick
from vla_wm_ros.control.model_runtime import ModelRuntime
from vla_wm_ros.control.plan_preview import can_preview, imagine_path
from vla_wm_ros.ros import qos
from vla_wm_ros.ros.parameters import Param
from vla_wm_ros.ros.plan_markers import plan_markers, plan_path
from vla_wm_ros.ros.rejections import Rejections

VISUALIZATION_PARAMETERS = [
    Param(
        "visualization.enabled",
        True,
        "publish the imagined end-effector path on ~/plan_path and ~/plan_markers",
    ),
    Param(
        "visualization.period",
        0.5,
        "seconds between plan visualisations (throttle)",
        low=0.05,
        high=60.0,
    ),
    Param("visualization.frame_id", "world", "frame of the imagined path (the robot base)"),
    Param(
        "visualization.horizon",
        15,
        "imagined steps when the planner exposes no plan (actor rollout)",
        low=1,
        high=200,
    ),
]


class PlanVisualiser:
    """The plan topics of `node` (created only when enabled), fed one planned tick at a
    time; `p` holds the visualization_* parameters."""

    def __init__(
        self, node, model: ModelRuntime, p: SimpleNamespace, rejections: Rejections
    ) -> None:
        self._node, self._model, self._p, self._rejections = node, model, p, rejections
        self.enabled = p.visualization_enabled and can_preview(model)
        self._due = 0.0
        self._pubs = []
        if self.enabled:
            self._path_pub = node.create_publisher(Path, "~/plan_path", qos.STATUS)
            self._markers_pub = node.create_publisher(MarkerArray, "~/plan_markers", qos.STATUS)
            self._pubs = [self._path_pub, self._markers_pub]

    def show(self, tick: Tick, belief: Belief | None, goal_embedding: list[float], stamp):
        """The imagined path of this tick's plan, from the belief it planned on (skipped
        within the throttle period or when the belief is for another goal)."""
        now = time.monotonic()
        if not self.enabled or now < self._due:
            return
        if belief is None or belief.goal_id != tick.goal_id:
            return
        self._due = now + self._p.visualization_period
        preview = imagine_path(
            self._model, belief.deter, belief.stoch, np.asarray(goal_embedding),
            tick.decision.action, tick.decision.plan, self._p.visualization_horizon,
        )  # fmt: skip
        if not (np.all(np.isfinite(preview.positions)) and np.all(np.isfinite(preview.rewards))):
            self._rejections.reject("plan_preview", "non-finite imagined path")
            return
        frame = self._p.visualization_frame_id
        self._path_pub.publish(plan_path(preview, frame, stamp))
        self._markers_pub.publish(
            plan_markers(preview, frame, stamp, lifetime=2 * self._p.visualization_period)
        )

    def close(self) -> None:
        """Destroy the plan topics (a lifecycle planner's cleanup)."""
        for pub in self._pubs:
            self._node.destroy_publisher(pub)
        self._pubs = []
