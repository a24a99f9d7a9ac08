"""Stage-3 latent dynamics models over frozen latent features: next = f(state, action)."""
