"""HTTP around the engine."""
