"""What a bag holds and how to read it into episodes: topics, joints by name, image size.

Loaded from YAML with `vla_wm_ros.config.loader` (`vla-wm bag import --config FILE`), so a
robot's recording setup is written down once; command-line options override single keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vla_wm_ros.config.loader import ConfigError


@dataclass
class BagTopics:
    """Topic names; an empty name means the bag has no such topic."""

    image: str = "/camera/image_raw"  # sensor_msgs/Image or sensor_msgs/CompressedImage
    camera_info: str = "/camera/camera_info"  # optional: intrinsics kept with the dataset
    joint_states: str = "/joint_states"
    action: str = "/vla_wm/action"
    instruction: str = "/vla_wm/instruction"  # std_msgs/String, optional
    reward: str = "/vla_wm/reward"  # std_msgs/Float32 or Float64, optional
    success: str = "/vla_wm/success"  # std_msgs/Bool, optional
    clock: str = "/clock"  # rosgraph_msgs/Clock, written on export with sim-clock stamps


@dataclass
class BagImportConfig:
    topics: BagTopics = field(default_factory=BagTopics)
    # State: JointState positions of these joints, in this order ([]: every joint, in the
    # order of the first message).
    joints: list[str] = field(default_factory=list)
    # Action names. For a JointState action topic they select its positions by name; for
    # an array or twist topic they name its elements ([]: action_0.., or the twist axes).
    action_names: list[str] = field(default_factory=list)
    action_low: list[float] = field(default_factory=list)  # []: -1 per action
    action_high: list[float] = field(default_factory=list)  # []: +1 per action
    robot_type: str = "unknown"
    image_size: int = 64  # square side the images are cropped and resized to; 0: keep
    fps: float = 0.0  # expected camera rate; 0: use the rate measured from the stamps
    fps_tolerance: float = 0.05  # relative difference between --fps and the data
    stamps: str = "log"  # "log": recording time (every topic has one), "header": its stamps
    task: str = ""
    instruction: str = ""  # used when the bag has no instruction topic
    # Who acted: "" keeps what our exporter recorded, else "expert" (a teleoperated
    # demonstration: the actor-critic stage's demos).
    policy: str = ""

    def validate(self) -> None:
        if self.image_size < 0:
            raise ConfigError(f"image_size: must be >= 0, got {self.image_size}")
        if self.fps < 0:
            raise ConfigError(f"fps: must be >= 0, got {self.fps}")
        if self.stamps not in ("header", "log"):
            raise ConfigError(f"stamps: 'header' or 'log', got {self.stamps!r}")
        if len(self.action_low) != len(self.action_high):
            raise ConfigError("action_low and action_high must have the same length")
        if len(set(self.joints)) != len(self.joints):
            raise ConfigError(f"joints: names repeat in {self.joints}")
