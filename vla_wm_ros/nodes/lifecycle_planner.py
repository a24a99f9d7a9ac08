"""lifecycle_planner: the planner as a managed (lifecycle) node, named `planner`.

Same parameters, topics and control loop as nodes/planner.py; the model loads on
configure, not at construction, so a launch system or a lifecycle manager decides when:

- configure: load the model and backends, create the loop, publishers and subscriptions
  (a failed load leaves the node unconfigured, with the reason logged)
- activate: start commanding
- deactivate: send the hold now, then stop commanding (the loop stays loaded)
- cleanup: release the model, publishers and subscriptions
- shutdown / destroy: the hold when commanding was configured, then release

Selected with the launch argument `lifecycle:=true` (`vla-wm run --lifecycle true`); the
launch file emits configure and activate, `vla-wm run` triggers them itself.
"""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from vla_wm_ros.nodes.planner import PARAMETERS, PlannerLogic
from vla_wm_ros.ros.node_main import run_node
from vla_wm_ros.ros.parameters import declare_parameters


class LifecyclePlanner(PlannerLogic, LifecycleNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("planner", **kwargs)
        self.p = declare_parameters(self, PARAMETERS)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._setup()
        except Exception as exc:  # reported as a failed transition, the node stays up
            self.get_logger().error(f"configure failed: {exc}")
            self._release()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info("active: commanding")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._hold()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._configured:
            self._hold()
        self._release()
        return TransitionCallbackReturn.SUCCESS


NODE_CLASS = LifecyclePlanner


def main(args: list[str] | None = None) -> None:
    run_node(LifecyclePlanner, args)


if __name__ == "__main__":
    main()
