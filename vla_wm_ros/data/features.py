"""Reading a LeRobot `features` table written by any tool: cameras, vectors, their names.

Our writer adds a "vla_wm" block to meta/info.json; datasets written by LeRobot itself
(or merged by its tools) have only `features`. This module finds what training needs in
those: the camera (an image stored in the parquet rows, or an mp4 video per camera), the
state and action vectors with their names in either of LeRobot's spellings (a list, or a
dict such as {"motors": [...]}), and action bounds from meta/stats.json.
"""

from __future__ import annotations

from dataclasses import dataclass

from vla_wm_ros.data import layout as L
from vla_wm_ros.data.layout import DatasetError


@dataclass(frozen=True)
class Camera:
    key: str  # feature name: "observation.image", "observation.images.top", ...
    video: bool  # frames in videos/<key>/... mp4 files, not in the parquet rows
    shape: tuple[int, int, int]  # (H, W, 3)


def cameras(features: dict) -> list[Camera]:
    """Every image or video feature, in the order info.json lists them."""
    out = []
    for key, feat in features.items():
        if feat.get("dtype") not in ("image", "video"):
            continue
        shape = [int(v) for v in feat["shape"]]
        names = feat.get("names") or ["height", "width", "channels"]
        if list(names)[:1] == ["channels"]:  # (C, H, W), as some LeRobot exports say
            shape = shape[1:] + shape[:1]
        out.append(Camera(key, feat["dtype"] == "video", (shape[0], shape[1], shape[2])))
    return out


def pick_camera(features: dict, wanted: str | None, where: str) -> Camera:
    """The camera named `wanted`, else ours (observation.image), else the first one."""
    found = cameras(features)
    if not found:
        raise DatasetError(f"{where}: no image or video feature; training needs a camera")
    by_key = {c.key: c for c in found}
    if wanted:
        if wanted not in by_key:
            raise DatasetError(f"{where}: no camera {wanted!r}; cameras: {', '.join(by_key)}")
        return by_key[wanted]
    return by_key.get(L.IMAGE, found[0])


def vector_names(features: dict, key: str, where: str) -> list[str]:
    """Names of a 1-D feature; `key_0..` where the dataset gives none."""
    if key not in features:
        raise DatasetError(f"{where}: no {key!r} feature; features: {', '.join(features)}")
    feat = features[key]
    size = int(feat["shape"][0])
    names = feat.get("names")
    if isinstance(names, dict):  # LeRobot v2: {"motors": [...]} or {"axes": [...]}
        names = next(iter(names.values()), None) if len(names) == 1 else None
    if isinstance(names, list) and len(names) == size and all(isinstance(n, str) for n in names):
        return list(names)
    return [f"{key.rsplit('.', 1)[-1]}_{i}" for i in range(size)]


def action_bounds(stats: dict | None, dim: int) -> tuple[list[float], list[float]]:
    """min/max of `action` in meta/stats.json, else [-1, 1] per dimension."""
    entry = (stats or {}).get(L.ACTION) or {}
    low, high = entry.get("min"), entry.get("max")
    if isinstance(low, list) and isinstance(high, list) and len(low) == len(high) == dim:
        return [float(v) for v in low], [float(v) for v in high]
    return [-1.0] * dim, [1.0] * dim
