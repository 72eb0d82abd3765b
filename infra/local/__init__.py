"""The local stack, kept importable from a checkout; the code lives in
:mod:`rotation.provision.local_stack` (``vgs-rotate local-stack`` after ``pip install``)."""

from rotation.provision.local_stack import MANAGER_SECRET_NAME, LocalStack, find_bao, free_port, serve

__all__ = ["MANAGER_SECRET_NAME", "LocalStack", "find_bao", "free_port", "serve"]
