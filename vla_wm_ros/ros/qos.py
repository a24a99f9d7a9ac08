"""QoS profiles, one per kind of traffic, so every node agrees.

Images and embeddings: sensor data (best effort, keep last few) - a late frame is worth
less than the next one. Goals: reliable + transient local, so a planner started after the
goal was set still gets it. Commands: reliable, as ros2_controllers and MoveIt Servo
subscribe reliable. Services: reliable with a request queue of 100 (see SERVICE).
"""

from __future__ import annotations

from rclpy.qos import (
    QoSDurabilityPolicy,
    QoSHistoryPolicy,
    QoSProfile,
    QoSReliabilityPolicy,
    qos_profile_sensor_data,
)

SENSOR = qos_profile_sensor_data

STATE = QoSProfile(
    depth=5,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.BEST_EFFORT,
)

GOAL = QoSProfile(
    depth=1,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
)

COMMAND = QoSProfile(
    depth=10,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
)

STATUS = COMMAND

# What a client records (episode and plan status): a client starved by a loaded machine
# must find every message queued, not the last 10 (the loop statistics must add up).
RECORD = QoSProfile(
    depth=1000,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
)

# Service requests (and a client's replies): deep enough that a burst of calls is queued
# and answered, not dropped by a keep-last history of rclpy's default 10.
SERVICE = QoSProfile(
    depth=100,
    history=QoSHistoryPolicy.KEEP_LAST,
    reliability=QoSReliabilityPolicy.RELIABLE,
)
