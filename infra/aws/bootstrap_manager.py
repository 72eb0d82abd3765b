"""``python -m infra.aws.bootstrap_manager``, kept for a checkout: the code lives in
:mod:`rotation.provision.manager` (``vgs-rotate bootstrap-manager`` after ``pip install``)."""

from __future__ import annotations

import sys

from rotation.provision.manager import (
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_ORGANIZATION,
    BootstrapError,
    Result,
    main,
    manager_document,
    read_credentials,
    store,
    verify,
)

__all__ = [
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_ORGANIZATION",
    "BootstrapError",
    "Result",
    "main",
    "manager_document",
    "read_credentials",
    "store",
    "verify",
]

if __name__ == "__main__":
    sys.exit(main())
