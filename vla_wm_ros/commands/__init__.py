"""Sub-commands of `vla-wm`, one module each (see vla_wm_ros.cli)."""
