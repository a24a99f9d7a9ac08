"""Configuration as dataclasses, loaded from and saved to YAML with validation."""

from vla_wm_ros.config.loader import ConfigError, from_dict, load_yaml, save_yaml, to_dict

__all__ = ["ConfigError", "from_dict", "load_yaml", "save_yaml", "to_dict"]
