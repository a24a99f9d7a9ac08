"""Episodes on disk (LeRobotDataset v3), collection, the sequence loader, rosbag2 bags.

See docs/DATASET.md for the format, field by field.
"""

from vla_wm_ros.data.episode import Episode
from vla_wm_ros.data.layout import DatasetError, DatasetExistsError
from vla_wm_ros.data.reader import EpisodeDataset
from vla_wm_ros.data.spec import DatasetSpec
from vla_wm_ros.data.writer import DatasetWriter

__all__ = [
    "DatasetError",
    "DatasetExistsError",
    "DatasetSpec",
    "DatasetWriter",
    "Episode",
    "EpisodeDataset",
]
