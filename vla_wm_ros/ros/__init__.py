"""rclpy adapters the nodes share: QoS, parameters, diagnostics, messages, the graph."""
