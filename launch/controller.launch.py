"""Start the language-commanded world-model controller.

    ros2 launch vla_wm_ros controller.launch.py sim:=mujoco
    ros2 launch vla_wm_ros controller.launch.py sim:=isaac device:=cuda control_frequency:=20.0

Arguments:
    sim                mujoco | gazebo | isaac | none (config/profile_<sim>.yaml)
    use_sim_time       auto | true | false (auto: as the profile says)
    params_file        ROS 2 params file (default: config/controller.yaml)
    model_dir          world-model checkpoint directory (default: models/world_model)
    device             cpu | cuda
    backend            auto | eager | compile | torchscript | onnxruntime | tensorrt
    control_frequency  planner ticks per second (default 10.0)

The node list, parameters and remappings come from vla_wm_ros.ros.graph, the same
description `vla-wm run` starts in one process; this file only translates it.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from vla_wm_ros.ros.graph import LAUNCH_ARGUMENTS, GraphArguments, describe


def _nodes(context, *args, **kwargs):
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in LAUNCH_ARGUMENTS}
    return [Node(**spec.launch_kwargs()) for spec in describe(GraphArguments.from_strings(values))]


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
