"""What a world model was trained to see: the rendering its training images came from.

A model trained on one camera, image size and goal-marker size reads a simulator drawn
otherwise as data it never saw: the 0.05 m goal disc it learnt to steer to becomes
Meta-World's own 1-2 pixel dot. So training records the dataset's rendering in the
checkpoint (`meta.yaml`, key `observation`: source, camera, image_size,
goal_marker_radius), and whatever builds a simulator for a checkpoint (eval actor,
dagger, sim_bridge and so demo, eval closed-loop, run and the launch file) renders as
recorded; what a caller forces instead comes back with a warning naming both. A
checkpoint without the record (trained before it existed, like the shipped one) saw
Meta-World's defaults: the orbit camera and Meta-World's own marker, at its encoder's
image size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vla_wm_ros.config.loader import ConfigError
from vla_wm_ros.sim.config import ORBIT, SimConfig

# meta.yaml key of a checkpoint's observation record.
META_KEY = "observation"
# DatasetSpec.source of data rendered by our MetaWorldEnv (`vla-wm collect`).
METAWORLD = "metaworld"
# An override of goal_marker_radius that asks for Meta-World's own marker.
OWN_MARKER = 0.0


@dataclass(frozen=True)
class ObservationSpec:
    """How the training images were made; for Meta-World data, how to render them again."""

    source: str = METAWORLD  # DatasetSpec.source: metaworld, lerobot, rosbag2, ...
    camera: str = ORBIT  # Meta-World camera; other sources: their image key or topic
    image_size: int = SimConfig.image_size
    goal_marker_radius: float | None = None  # None: Meta-World's own 0.02 m marker

    def to_meta(self) -> dict:
        return {
            "source": self.source,
            "camera": self.camera,
            "image_size": self.image_size,
            "goal_marker_radius": self.goal_marker_radius,
        }

    @classmethod
    def from_meta(cls, meta: dict, where: str) -> ObservationSpec | None:
        """The record in a checkpoint's metadata; None when it has none."""
        record = meta.get(META_KEY)
        if record is None:
            return None
        keys = {"source", "camera", "image_size", "goal_marker_radius"}
        if not isinstance(record, dict) or not keys <= set(record):
            raise ConfigError(f"{where}: {META_KEY} must have {', '.join(sorted(keys))}")
        radius = record["goal_marker_radius"]
        return cls(
            str(record["source"]),
            str(record["camera"]),
            int(record["image_size"]),
            None if radius is None else float(radius),
        )

    @classmethod
    def of_dataset(cls, spec) -> ObservationSpec:
        """What a dataset's images are (a DatasetSpec, from its meta/info.json)."""
        radius = spec.extra.get("goal_marker_radius")
        return cls(
            spec.source or "unknown",
            spec.camera,
            int(spec.image_shape[0]),
            None if radius is None else float(radius),
        )

    def sim_kwargs(self) -> dict:
        """MetaWorldEnv keyword arguments that render this observation."""
        if self.source != METAWORLD:
            raise ConfigError(
                f"{self.source} images ({self.camera}) cannot be rendered by the simulator; "
                "use simulator_observation for the closest simulator view"
            )
        return {
            "camera": self.camera,
            "image_size": self.image_size,
            "goal_marker_radius": self.goal_marker_radius,
        }


def read_observation(checkpoint: str | Path) -> ObservationSpec:
    """A checkpoint's recorded observation; without a record, Meta-World's defaults."""
    from vla_wm_ros.models.checkpoint import META_FILE, read_config, read_meta

    directory = Path(checkpoint)
    recorded = ObservationSpec.from_meta(read_meta(directory), str(directory / META_FILE))
    if recorded is not None:
        return recorded
    return ObservationSpec(image_size=int(read_config(directory).encoder.image_size))


def simulator_observation(
    recorded: ObservationSpec,
    checkpoint: str | Path,
    camera: str | None = None,
    image_size: int | None = None,
    goal_marker_radius: float | None = None,
) -> tuple[ObservationSpec, list[str]]:
    """What a simulator for `checkpoint` renders, and a warning per difference from what
    it was trained on. None keeps the record; goal_marker_radius OWN_MARKER forces
    Meta-World's own marker. Data from elsewhere gets the simulator's default view."""
    warnings = []
    base = recorded
    if recorded.source != METAWORLD:
        base = ObservationSpec(image_size=recorded.image_size)
        if camera is None:
            warnings.append(
                f"{checkpoint} was trained on {recorded.source} images ({recorded.camera}); "
                f"the simulator renders its own {base.camera!r} view instead"
            )
    radius = base.goal_marker_radius
    if goal_marker_radius is not None:
        radius = None if goal_marker_radius == OWN_MARKER else float(goal_marker_radius)
    out = ObservationSpec(
        METAWORLD,
        base.camera if camera is None else camera,
        base.image_size if image_size is None else int(image_size),
        radius,
    )
    for name in ("camera", "image_size", "goal_marker_radius"):
        forced, trained = getattr(out, name), getattr(recorded, name)
        if forced != trained and (name != "camera" or recorded.source == METAWORLD):
            warnings.append(
                f"{name} {_shown(name, forced)} differs from {_shown(name, trained)} that "
                f"{checkpoint} was trained on: the model sees images unlike its training data"
            )
    SimConfig(**out.sim_kwargs()).validate()
    return out, warnings


def _shown(name: str, value) -> str:
    if name == "goal_marker_radius" and value is None:
        return "None (Meta-World's own marker)"
    return repr(value)


def model_dir_observation(
    model_dir: str, camera: str = "", image_size: int = 0, goal_marker_radius: float = -1.0
) -> tuple[ObservationSpec, list[str]]:
    """sim_bridge's settings: the observation of the model at `model_dir` (empty: the
    shipped one; Meta-World's defaults when there is none), overridden by a non-empty
    camera, a positive image_size, a goal_marker_radius >= 0 (0: Meta-World's own)."""
    from vla_wm_ros import paths
    from vla_wm_ros.models.checkpoint import CONFIG_FILE

    directory = Path(model_dir) if model_dir else paths.models_dir() / paths.DEFAULT_MODEL
    if (directory / CONFIG_FILE).is_file():
        recorded = read_observation(directory)
    elif model_dir:
        raise FileNotFoundError(f"model_dir {directory}: no world-model checkpoint there")
    else:
        recorded = ObservationSpec()
    return simulator_observation(
        recorded,
        directory,
        camera or None,
        image_size if image_size > 0 else None,
        goal_marker_radius if goal_marker_radius >= 0 else None,
    )
