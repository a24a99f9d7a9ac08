"""`vla-wm plan-view`: record the planner's imagined paths from a running graph into a
rosbag2 folder (MCAP), and/or draw a bag's paths as a PNG (top view x-y and side view x-z, each
imagined step coloured by its predicted reward as the markers are: red low, green high).

    vla-wm plan-view --record plan_bag --seconds 20     # while `vla-wm goal ...` runs
    vla-wm plan-view --bag plan_bag --png docs/plan_visualisation.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = ("plan-view",)
HELP = "record the planner's imagined paths to a rosbag2 folder and draw a bag's paths as a PNG"
PATH_TOPIC = "/planner/plan_path"
MARKERS_TOPIC = "/planner/plan_markers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", type=Path, help="record the topics into this bag folder")
    parser.add_argument("--seconds", type=float, default=20.0, help="recording time (20)")
    parser.add_argument("--bag", type=Path, help="draw this bag folder (default: --record)")
    parser.add_argument("--png", type=Path, help="write the drawing here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _record(path: Path, seconds: float) -> dict:
    from nav_msgs.msg import Path as PathMsg
    from visualization_msgs.msg import MarkerArray

    from vla_wm_ros.ros.graph_client import GraphClient
    from vla_wm_ros.ros.topic_recorder import record

    client = GraphClient()
    try:
        return record(
            client.node,
            lambda: client.executor.spin_once(timeout_sec=0.05),
            {PATH_TOPIC: PathMsg, MARKERS_TOPIC: MarkerArray},
            path,
            seconds,
        )
    finally:
        client.close()


def _draw(bag: Path, png: Path) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from vla_wm_ros.ros.topic_recorder import read

    # The planner publishes each path and its markers back to back: pair them in order.
    paths, colours = [], []
    for topic, msg in read(bag, {PATH_TOPIC, MARKERS_TOPIC}):
        if topic == PATH_TOPIC:
            poses = msg.poses
            xyz = [[q.pose.position.x, q.pose.position.y, q.pose.position.z] for q in poses]
            paths.append(np.array(xyz))
        elif msg.markers:
            colours.append(np.array([[c.r, c.g, c.b] for c in msg.markers[0].colors]))
    if not paths:
        raise SystemExit(f"vla-wm plan-view: no {PATH_TOPIC} messages in {bag}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for k, xyz in enumerate(paths):
        rgb = colours[k] if k < len(colours) and len(colours[k]) == len(xyz) else None
        for ax, (a, b) in zip(axes, ((0, 1), (0, 2)), strict=True):
            ax.plot(xyz[:, a], xyz[:, b], color="0.75", linewidth=0.8, zorder=1)
            ax.scatter(xyz[:, a], xyz[:, b], c=rgb if rgb is not None else "C0", s=9, zorder=2)
    for ax, label in zip(axes, ("y (m)", "z (m)"), strict=True):
        ax.set_xlabel("x (m)")
        ax.set_ylabel(label)
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
    axes[0].set_title("imagined end-effector paths, top view")
    axes[1].set_title("side view; colour: predicted reward in each plan (red low)")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    return len(paths)


def run(args: argparse.Namespace) -> int:
    summary: dict = {}
    if args.record:
        summary["recorded"] = _record(args.record, args.seconds)
    bag = args.bag or args.record
    if args.png:
        if bag is None:
            raise SystemExit("vla-wm plan-view: --png needs --bag or --record")
        summary["paths_drawn"] = _draw(bag, args.png)
        summary["png"] = str(args.png)
    print(json.dumps(summary) if args.json else summary)
    return 0
