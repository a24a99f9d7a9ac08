"""Evaluation of trained models without a ROS graph (world-model prediction quality)."""
