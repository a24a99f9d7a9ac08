"""Training of the world model and its heads in stages (seed stages 1, 2, 3, 6)."""
