"""The control loop's logic without ROS: policies, deadlines, watchdog, belief, statistics."""
