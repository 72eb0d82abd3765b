"""vgs-rotation: rotate, validate and publish VGS credentials.

Kept import-light on purpose (Lambda cold starts pay for every import): submodules are
imported where they are used, not here.
"""

__version__ = "0.1.0"

import logging as _logging

# A library logs through its own loggers and leaves output to the application (the CLI's
# -v, Powertools in Lambda): without this, Python's last-resort handler prints warnings.
_logging.getLogger("rotation").addHandler(_logging.NullHandler())
