"""Learning algorithms (added by the training issues)."""
