"""One guard around every callback of every node: a failure is a refusal, not a crash.

An exception escaping an rclpy callback ends the executor's spin, and with it the node's
thread: its name stays on the graph, its timers stop and its services never answer
again (sim_bridge's `~/reset` with seed -1 did exactly that). `GuardedCallbacks` is a
mixin for rclpy's Node (or LifecycleNode) that wraps every subscription, timer and
service callback it creates (and, through `create_action_server`, an action server's
goal, cancel and execute callbacks): an exception is logged with its type and message (rate
limited, as rejections are), counted, reported on /diagnostics (ros/diagnostics adds
`callback_failures` and the last one to the node's report), a service is answered with a
refusal (`success`/`accepted` False, the reason in `message`), and the node goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from rclpy.action import ActionServer
from rclpy.executors import await_or_execute

from vla_wm_ros.ros.rejections import Rejections

# Response fields set to False in a refusal, and the one that carries the reason.
REFUSAL_FLAGS = ("success", "accepted")
REASON_FIELD = "message"


def refuse(response: Any, reason: str) -> Any:
    """`response` turned into a refusal that says `reason` (fields it lacks are skipped)."""
    for flag in REFUSAL_FLAGS:
        if hasattr(response, flag):
            setattr(response, flag, False)
    if hasattr(response, REASON_FIELD):
        setattr(response, REASON_FIELD, f"refused: {reason}")
    return response


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class GuardedCallbacks:
    """Mixin (before Node in the bases): every callback the node creates runs guarded."""

    @property
    def callback_failures(self) -> Rejections:
        """The node's failed-callback count and last reason (made on first use)."""
        failures = self.__dict__.get("_callback_failures")
        if failures is None:
            failures = Rejections(
                self.get_logger(),
                verb="callback failed in",
                keys=("callback_failures", "last_callback_failure"),
                level="error",
            )
            self.__dict__["_callback_failures"] = failures
        return failures

    def _guarded(self, what: str, callback: Callable) -> Callable:
        # wraps: rclpy reads the callback's signature (a timer passes TimerInfo if asked).
        @functools.wraps(callback)
        def call(*args):
            try:
                return callback(*args)
            except Exception as exc:  # the guard's purpose: no exception ends the spin
                self.callback_failures.reject(what, _reason(exc))
                return None

        return call

    def create_subscription(self, msg_type, topic, callback, qos_profile, **kwargs):
        guarded = self._guarded(f"subscription {topic}", callback)
        return super().create_subscription(msg_type, topic, guarded, qos_profile, **kwargs)

    def create_timer(self, timer_period_sec, callback, *args, **kwargs):
        guarded = self._guarded("timer", callback)
        return super().create_timer(timer_period_sec, guarded, *args, **kwargs)

    def create_service(self, srv_type, srv_name, callback, **kwargs):
        what = f"service {srv_name}"

        def call(request, response):
            try:
                return callback(request, response)
            except Exception as exc:  # answered with a refusal, never left unanswered
                self.callback_failures.reject(what, _reason(exc))
                return refuse(response, _reason(exc))

        return super().create_service(srv_type, srv_name, call, **kwargs)

    def create_action_server(self, action_type, action_name, execute_callback, **kwargs):
        """An ActionServer with guarded callbacks: a failed execute aborts the goal with a
        refusal result (rclpy alone answers an empty one, uncounted); a failed goal or
        cancel callback rejects the request."""
        what = f"action {action_name}"

        async def execute(handle):
            try:
                return await await_or_execute(execute_callback, handle)
            except Exception as exc:  # the goal ends aborted, its result says why
                self.callback_failures.reject(what, _reason(exc))
                if handle.is_active:
                    handle.abort()
                return refuse(action_type.Result(), _reason(exc))

        for key in ("goal_callback", "cancel_callback"):
            if key in kwargs:
                kwargs[key] = self._guarded(f"{what} {key}", kwargs[key])
        return ActionServer(self, action_type, action_name, execute, **kwargs)
