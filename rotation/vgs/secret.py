"""A string that never shows itself: client secrets, passwords and access tokens."""

from __future__ import annotations

import hmac
from typing import Any


class Secret:
    """Wraps a sensitive string so that ``repr``, ``str``, f-strings and logs show ``***``.

    Call :meth:`reveal` at the one place the raw value is needed (an HTTP body or header,
    a store write). Equality is constant-time so comparisons do not leak by timing.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a string, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # pragma: no cover - pickling is a deliberate reveal
        raise TypeError("Secret values are not picklable")
