"""Where Meta-World's 39-float state vector (`MetaWorldEnv.state`) keeps what is read by name:
the hand, the task's main object and the goal (x, y, z in metres, world frame), for
probes and the experts of sim/policies.py."""

STATE_SLICES = {"hand": slice(0, 3), "object": slice(4, 7), "goal": slice(36, 39)}
