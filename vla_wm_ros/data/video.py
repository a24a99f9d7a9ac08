"""Frames of an mp4 (LeRobot's video storage, one file per camera) picked by timestamp.

Decoded with PyAV (`av`, FFmpeg bundled in the wheel: AV1 via dav1d, H.264, HEVC, ...);
torchcodec needs a system FFmpeg and does not load on our machines. A frame is matched to
a wanted time when it lies within half a frame period of it, the tolerance that still
tells neighbouring frames apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_wm_ros.data.layout import DatasetError


def read_frames(
    path: Path, times: np.ndarray, fps: float, shape: tuple[int, int, int]
) -> np.ndarray:
    """(len(times), H, W, 3) uint8 RGB frames shown at `times` (seconds, ascending)."""
    import av

    times = np.asarray(times, dtype=np.float64)
    out = np.empty((len(times), *shape), dtype=np.uint8)
    if not len(times):
        return out
    if not path.is_file():
        raise DatasetError(f"{path}: missing video file")
    tol = 0.5 / fps
    j = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = max(float(times[0]) - tol, 0.0)
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time < times[j] - tol:
                    continue
                if frame.time > times[j] + tol:
                    break
                image = frame.to_ndarray(format="rgb24")
                if image.shape != shape:
                    raise DatasetError(f"{path}: frames are {image.shape}, info.json says {shape}")
                while j < len(times) and abs(frame.time - times[j]) <= tol:
                    out[j] = image
                    j += 1
                if j == len(times):
                    break
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise DatasetError(f"{path}: cannot decode video ({exc})") from None
    if j < len(times):
        raise DatasetError(
            f"{path}: no frame within {tol * 1000:.1f} ms of t = {times[j]:.4f} s "
            f"({len(times) - j} of {len(times)} frames missing)"
        )
    return out
