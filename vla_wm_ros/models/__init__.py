"""The world-model core (PyTorch, ROS-free): encoders, RSSM, heads, dynamics, actor-critic.

Entry points: `world_model.WorldModel`, `checkpoint.save_checkpoint` / `load_checkpoint`,
`imagine_kernel.ImagineKernel` (the planner's fast path).
"""
