"""Simulator settings as a dataclass (loaded with vla_wm_ros.config.loader)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vla_wm_ros.config.loader import ConfigError

# The default camera. Chosen by rendering every MT10 task at 64x64 from each Meta-World
# camera and a few orbit placements, counting object and gripper pixels with MuJoCo's
# segmentation renderer: this view keeps the whole arm, the gripper and the task object in
# frame for all ten tasks and shows objects ~1.3x larger than "corner4".
ORBIT = "orbit"
# The same free camera, closer and steeper over the table: objects ~1.5x larger in the
# image (the push/pick-place puck ~4 instead of 2-3 pixels at 64x64), every MT10 fixture
# and the hand's workspace still in view. Named, so a dataset and a checkpoint record it.
ORBIT_NEAR = "orbit-near"


@dataclass
class OrbitCamera:
    """A free camera looking at `lookat` from `distance` m (MuJoCo azimuth/elevation, deg)."""

    lookat: tuple[float, float, float] = (0.0, 0.7, 0.22)
    distance: float = 1.3
    azimuth: float = 140.0
    elevation: float = -30.0

    def validate(self) -> None:
        if self.distance <= 0:
            raise ConfigError(f"distance must be positive, got {self.distance}")


NEAR_VIEW = OrbitCamera(lookat=(0.0, 0.72, 0.12), distance=0.95, azimuth=140.0, elevation=-38.0)


@dataclass
class SimConfig:
    """One Meta-World environment: which task, how it is seeded, rendered and cut off."""

    task: str = "button-press-topdown"
    seed: int = 0
    # Image height and width in pixels (square).
    image_size: int = 64
    # "orbit" (the `orbit` camera below), "orbit-near" (NEAR_VIEW) or a camera of the
    # Meta-World model: corner, corner2, corner3, corner4, topview, behindGripper, gripperPOV.
    camera: str = ORBIT
    orbit: OrbitCamera = field(default_factory=OrbitCamera)
    # Episode length: `done` becomes true after this many steps (Meta-World's own is 500).
    max_steps: int = 500
    # False skips rendering (observations carry no image): for state-only experts and tests.
    render: bool = True
    # MSAA samples of the offscreen buffer; 0 is ~3x faster than MuJoCo's default 4.
    multisamples: int = 0
    # Radius (m) the task's goal marker (Meta-World's visual-only "goal" site) is drawn
    # with; None keeps Meta-World's own 0.02 m, 1-2 pixels at 64x64: too small for a 64x64
    # world model to carry where reach, push and pick-place must go. Physics is unchanged.
    goal_marker_radius: float | None = None

    def validate(self) -> None:
        if not 8 <= self.image_size <= 1024:
            raise ConfigError(f"image_size must be in [8, 1024], got {self.image_size}")
        if self.max_steps <= 0:
            raise ConfigError(f"max_steps must be positive, got {self.max_steps}")
        if self.multisamples < 0:
            raise ConfigError(f"multisamples must be >= 0, got {self.multisamples}")
        if self.goal_marker_radius is not None and not 0 < self.goal_marker_radius <= 0.2:
            raise ConfigError(
                f"goal_marker_radius must be in (0, 0.2] m, got {self.goal_marker_radius}"
            )
