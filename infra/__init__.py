"""Deployment and local-stack tooling for vgs-rotation (not part of the runtime package)."""
