"""vgs-rotation: rotate, validate and publish VGS credentials.

Kept import-light on purpose (Lambda cold starts pay for every import): submodules are
imported where they are used, not here.
"""

__version__ = "0.1.0"
