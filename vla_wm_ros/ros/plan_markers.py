"""A PlanPreview as the messages rviz2 and Foxglove draw: nav_msgs/Path and a
visualization_msgs/MarkerArray (a line strip and spheres coloured by predicted reward,
red = lowest of the plan, green = highest), in the robot's frame."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from vla_wm_ros.control.plan_preview import PlanPreview

NAMESPACE = "vla_wm_plan"


def plan_path(preview: PlanPreview, frame_id: str, stamp: Time) -> Path:
    path = Path()
    path.header.frame_id, path.header.stamp = frame_id, stamp
    for x, y, z in preview.positions:
        pose = PoseStamped()
        pose.header = path.header
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (
            float(x),
            float(y),
            float(z),
        )
        pose.pose.orientation.w = 1.0
        path.poses.append(pose)
    return path


def reward_colours(rewards: np.ndarray) -> list[ColorRGBA]:
    """Red (lowest) to green (highest) over this plan's predicted rewards."""
    span = float(np.ptp(rewards)) if rewards.size else 0.0
    scaled = (rewards - rewards.min()) / span if span > 0 else np.full(rewards.shape, 0.5)
    return [ColorRGBA(r=float(1 - s), g=float(s), b=0.1, a=1.0) for s in scaled]


def plan_markers(preview: PlanPreview, frame_id: str, stamp: Time, lifetime: float) -> MarkerArray:
    """Line strip and spheres of the imagined path; the start point is grey (it is the
    belief, not a step of the plan)."""
    colours = [ColorRGBA(r=0.6, g=0.6, b=0.6, a=1.0), *reward_colours(preview.rewards)]
    points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in preview.positions]
    life = Duration(sec=int(lifetime), nanosec=int((lifetime % 1.0) * 1e9))
    markers = []
    for marker_id, (kind, scale) in enumerate(
        ((Marker.LINE_STRIP, 0.004), (Marker.SPHERE_LIST, 0.012))
    ):
        marker = Marker(ns=f"{NAMESPACE}/{preview.source}", id=marker_id, type=kind)
        marker.header.frame_id, marker.header.stamp = frame_id, stamp
        marker.action = Marker.ADD
        marker.pose.orientation.w = 1.0
        marker.scale.x = marker.scale.y = marker.scale.z = scale
        marker.points, marker.colors, marker.lifetime = points, colours, life
        markers.append(marker)
    return MarkerArray(markers=markers)
