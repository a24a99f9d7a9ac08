"""Start the language-commanded world-model controller.

    ros2 launch vla_wm_ros controller.launch.py sim:=mujoco
    ros2 launch vla_wm_ros controller.launch.py sim:=isaac device:=cuda control_frequency:=20.0

Arguments:
    sim                mujoco | gazebo | isaac | servo | none (config/profile_<sim>.yaml)
    use_sim_time       auto | true | false (auto: as the profile says)
    params_file        ROS 2 params file (default: config/controller.yaml)
    model_dir          world-model checkpoint directory (default: models/world_model);
                       sim_bridge renders as its training images were (meta.yaml
                       observation: camera, image size, goal marker)
    device             cpu | cuda
    backend            auto | eager | compile | torchscript | onnxruntime | tensorrt
    control_frequency  planner ticks per second (default 10.0)
    lifecycle          true | false: the planner as a lifecycle node, configured and
                       activated here once it is up (deactivate: it holds)

The node list, parameters and remappings come from vla_wm_ros.ros.graph, the same
description `vla-wm run` starts in one process; this file only translates it.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from vla_wm_ros.ros.graph import LAUNCH_ARGUMENTS, GraphArguments, describe


def _managed(spec):
    """A lifecycle node, configured when it is up and activated once configured."""
    node = LifecycleNode(namespace="", **spec.launch_kwargs())

    def change(transition_id):
        matcher = matches_action(node)
        return EmitEvent(
            event=ChangeState(lifecycle_node_matcher=matcher, transition_id=transition_id)
        )

    activate = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=node,
            goal_state="inactive",
            entities=[change(Transition.TRANSITION_ACTIVATE)],
        )
    )
    return [node, activate, change(Transition.TRANSITION_CONFIGURE)]


def _nodes(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in LAUNCH_ARGUMENTS}
    actions = []
    for spec in describe(GraphArguments.from_strings(values)):
        actions += _managed(spec) if spec.lifecycle else [Node(**spec.launch_kwargs())]
    return actions


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(
            a.name,
            default_value=a.default,
            description=a.description,
            choices=list(a.choices) or None,
        )
        for a in LAUNCH_ARGUMENTS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_nodes)])
