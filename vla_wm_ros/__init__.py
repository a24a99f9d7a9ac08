"""vla_wm_ros: language-commanded world-model control for ROS 2.

The computing core (config, models, planning, training, language, sim, data, deploy)
imports no rclpy; the thin ROS adapters live in `vla_wm_ros.nodes`.
"""

__version__ = "0.1.0"
