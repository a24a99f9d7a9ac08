"""Measurement helpers shared by the `vla-wm bench ...` commands."""
