"""Running many independent jobs on a bounded number of workers."""

from rotation.scheduling.due_queue import Later, run_bounded

__all__ = ["Later", "run_bounded"]
