"""What the ROS 2 nodes share: QoS profiles, message conversions, the node graph."""
