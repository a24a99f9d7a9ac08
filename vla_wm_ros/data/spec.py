"""What every episode of a dataset shares: rate, image size, state/action names and bounds.

It is written into meta/info.json as LeRobot `features` plus a "vla_wm" block, and read
back from there (or from `features` alone, for datasets other tools wrote); appending
refuses episodes that do not match it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.features import action_bounds, pick_camera, vector_names
from vla_wm_ros.data.layout import DatasetError


@dataclass
class DatasetSpec:
    fps: float
    image_shape: tuple[int, int, int]  # (H, W, 3)
    state_names: list[str]
    action_names: list[str]
    action_low: list[float]
    action_high: list[float]
    environment_state_dim: int = 0  # 0: no observation.environment_state column
    robot_type: str = "unknown"
    source: str = ""  # what produced the data: "metaworld", "rosbag2", "lerobot"
    camera: str = ""
    extra: dict = field(default_factory=dict)  # free-form provenance (kept in info.json)

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    def validate(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if len(self.image_shape) != 3 or self.image_shape[2] != 3:
            raise ValueError(f"image_shape must be (H, W, 3), got {self.image_shape}")
        if not self.state_names or not self.action_names:
            raise ValueError("state_names and action_names must not be empty")
        if not len(self.action_low) == len(self.action_high) == self.action_dim:
            raise ValueError("action_low/action_high must have one value per action name")

    def mismatches(self, other: DatasetSpec) -> list[str]:
        """Differences that make episodes of `other` unfit for a dataset of `self`."""
        out = []
        for key in ("fps", "image_shape", "state_names", "action_names", "environment_state_dim"):
            mine, theirs = getattr(self, key), getattr(other, key)
            if (tuple(mine) if isinstance(mine, list | tuple) else mine) != (
                tuple(theirs) if isinstance(theirs, list | tuple) else theirs
            ):
                out.append(f"{key}: dataset has {mine}, new data has {theirs}")
        mine, theirs = (spec.extra.get("goal_marker_radius") for spec in (self, other))
        if mine != theirs:  # the same scenes drawn differently
            out.append(f"goal_marker_radius: dataset has {mine}, new data has {theirs}")
        return out

    def features(self) -> dict:
        """LeRobot v3 `features` of meta/info.json."""

        def vector(dtype: str, names: list[str] | None, size: int) -> dict:
            return {"dtype": dtype, "shape": [size], "names": names}

        feats = {
            L.IMAGE: {
                "dtype": "image",
                "shape": list(self.image_shape),
                "names": ["height", "width", "channels"],
            },
            L.STATE: vector("float32", list(self.state_names), self.state_dim),
        }
        if self.environment_state_dim:
            feats[L.ENV_STATE] = vector("float32", None, self.environment_state_dim)
        feats[L.ACTION] = vector("float32", list(self.action_names), self.action_dim)
        for key, dtype in (
            (L.REWARD, "float32"),
            (L.SUCCESS, "bool"),
            (L.DONE, "bool"),
            (L.TERMINATED, "bool"),
            ("timestamp", "float32"),
            ("frame_index", "int64"),
            ("episode_index", "int64"),
            ("index", "int64"),
            ("task_index", "int64"),
        ):
            feats[key] = vector(dtype, None, 1)
        return feats

    def arrow_schema(self) -> pa.Schema:
        fields = [
            pa.field(L.IMAGE, pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            pa.field(L.STATE, pa.list_(pa.float32(), self.state_dim)),
        ]
        if self.environment_state_dim:
            fields.append(pa.field(L.ENV_STATE, pa.list_(pa.float32(), self.environment_state_dim)))
        fields += [
            pa.field(L.ACTION, pa.list_(pa.float32(), self.action_dim)),
            pa.field(L.REWARD, pa.float32()),
            pa.field(L.SUCCESS, pa.bool_()),
            pa.field(L.DONE, pa.bool_()),
            pa.field(L.TERMINATED, pa.bool_()),
            pa.field("timestamp", pa.float32()),
            pa.field("frame_index", pa.int64()),
            pa.field("episode_index", pa.int64()),
            pa.field("index", pa.int64()),
            pa.field("task_index", pa.int64()),
        ]
        return pa.schema(fields)

    def info_block(self) -> dict:
        """Our additions to meta/info.json (LeRobot readers ignore them)."""
        return {
            "format_version": L.FORMAT_VERSION,
            "image_key": L.IMAGE,
            "image_encoding": "png",
            "action_low": [float(v) for v in self.action_low],
            "action_high": [float(v) for v in self.action_high],
            "source": self.source,
            "camera": self.camera,
            "extra": self.extra,
        }

    @classmethod
    def from_info(
        cls, info: dict, where: str, stats: dict | None = None, camera: str | None = None
    ) -> DatasetSpec:
        """Read back from a parsed meta/info.json; `where` names the file in errors.

        Our "vla_wm" block is optional: without it (a dataset written by LeRobot) names
        come from `features`, action bounds from `stats` (meta/stats.json), and the camera
        is `camera`, else observation.image, else the first image or video feature.
        """
        try:
            feats = info["features"]
            block = info.get("vla_wm") or {}
            cam = pick_camera(feats, camera or block.get("image_key"), where)
            env_state = feats.get(L.ENV_STATE)
            action_names = vector_names(feats, L.ACTION, where)
            if "action_low" in block:
                low = [float(v) for v in block["action_low"]]
                high = [float(v) for v in block["action_high"]]
            else:
                low, high = action_bounds(stats, len(action_names))
            spec = cls(
                fps=float(info["fps"]),
                image_shape=cam.shape,
                state_names=vector_names(feats, L.STATE, where),
                action_names=action_names,
                action_low=low,
                action_high=high,
                environment_state_dim=int(env_state["shape"][0]) if env_state else 0,
                robot_type=str(info.get("robot_type") or "unknown"),
                source=str(block.get("source", "lerobot")),
                camera=str(block.get("camera", cam.key)),
                extra=dict(block.get("extra") or {}),
            )
            spec.validate()
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DatasetError(f"{where}: invalid dataset description ({exc!r})") from None
        return spec
