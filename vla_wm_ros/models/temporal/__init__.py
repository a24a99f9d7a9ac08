"""Causal temporal (history) encoders: output at step t never depends on steps after t."""
