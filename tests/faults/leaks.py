"""The leak scan: every secret and every minted access token, in each form it could take on
the wire or in a log line, searched in captured text.

Forms searched for each value:

- raw, and every 16-character window of a long one (24+ characters), so that a truncated
  or split value is still caught;
- URL-encoded (``quote`` with and without ``/`` safe, ``quote_plus``, upper- and lower-case
  hex), as in a form body ``client_secret=...`` or a query string;
- base64, standard and URL-safe, of the value alone and, given an ``(id, secret)`` pair, of
  ``id:secret`` as in ``Authorization: Basic ...`` (the windows of the part that encodes the
  secret too: the id alone is no secret);
- an access token (a JWT: three dot-separated base64url parts): whole, and every window of
  its signature (the header and part of the claims are the same in every token).

Messages describe a leak without showing it: the kind, the length, a short fingerprint
(sha256) and the form, never the value or a piece of it.

Where: the captures put the product's loggers (``PRODUCT_LOGGERS``) at DEBUG and every other
logger at ``THIRD_PARTY_LEVEL`` (INFO). That is the guarantee the product gives: its own
records never carry a secret at any level, and it never turns a third-party library below
INFO (``vgs-rotate -vv`` turns only its own loggers to DEBUG, the plugin keeps httpx and
httpcore at WARNING, the Lambda's Powertools set-up configures only ``rotation``). httpx
logs each request's URL at INFO, so URLs are scanned. Third-party DEBUG is out of scope by
design: botocore's DEBUG logs request bodies (a PutSecretValue's SecretString) and
httpcore's DEBUG the raw header bytes; whoever enables them by hand sees secrets.

Windows are looked up in a set, inside the runs of text between whitespace and quotes, so a
scan costs about one set lookup per character of long runs, whatever the number of secrets.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

PRODUCT_LOGGERS = ("rotation", "vault_plugin")
THIRD_PARTY_LEVEL = logging.INFO
WINDOW = 16  # characters: a fragment this long of a random value is that value
MIN_FRAGMENTED = 24  # values shorter than this are searched whole only
_RUN = re.compile(r"[^\s\"']{" + str(WINDOW) + ",}")
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}$")

Item = str | tuple[str, str]  # a secret value, or an (id, secret) pair (Basic auth)


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:8]


def _b64(data: bytes) -> list[str]:
    return [base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()]


def _url_forms(value: str) -> set[str]:
    forms = {quote(value, safe=""), quote(value), quote_plus(value)}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in forms}
    forms.discard(value)
    return forms


def _windows(text: str, start: int = 0) -> Iterable[str]:
    return (text[i : i + WINDOW] for i in range(start, len(text) - WINDOW + 1))


@dataclass
class Needles:
    """What to look for: whole strings (searched with ``in``) and windows (looked up in runs)."""

    whole: dict[str, str] = field(default_factory=dict)  # needle -> description
    windows: dict[str, str] = field(default_factory=dict)

    def add_value(self, value: str, kind: str) -> None:
        about = f"a {kind} of length {len(value)} (#{fingerprint(value)})"
        self.whole.setdefault(value, about)
        if _JWT.match(value):
            signature = value.rsplit(".", 1)[1]
            for w in _windows(signature):
                self.windows.setdefault(w, f"{about}, a piece of its signature")
            return  # base64url characters only: URL-encoding is the identity
        if len(value) >= MIN_FRAGMENTED:
            for w in _windows(value):
                self.windows.setdefault(w, f"{about}, a fragment")
        for form in _url_forms(value):
            self.whole.setdefault(form, f"{about}, URL-encoded")
            if len(form) >= MIN_FRAGMENTED:
                for w in _windows(form):
                    self.windows.setdefault(w, f"{about}, a fragment URL-encoded")
        for form in _b64(value.encode()):
            self.whole.setdefault(form.rstrip("="), f"{about}, base64")
            if len(form) >= MIN_FRAGMENTED:
                for w in _windows(form):
                    self.windows.setdefault(w, f"{about}, a fragment base64")

    def add_pair(self, ident: str, secret: str, kind: str) -> None:
        about = f"a {kind} of length {len(secret)} (#{fingerprint(secret)})"
        # base64 characters from this offset on encode only bytes of the secret
        start = -(-(len(ident.encode()) + 1) // 3) * 4
        for form in _b64(f"{ident}:{secret}".encode()):
            self.whole.setdefault(form.rstrip("="), f"{about}, base64 of id:secret (Basic auth)")
            for w in _windows(form, start):
                self.windows.setdefault(w, f"{about}, a fragment of base64 id:secret (Basic auth)")
        self.add_value(secret, kind)


def needles(items: Iterable[Item], *, tokens: Iterable[str] = ()) -> Needles:
    n = Needles()
    for item in items:
        if isinstance(item, tuple):
            if item[1]:
                n.add_pair(item[0], item[1], "secret")
        elif item:
            n.add_value(item, "token" if _JWT.match(item) else "secret")
    for token in tokens:
        if token:
            n.add_value(token, "token")
    return n


def scan(text: str, n: Needles) -> list[str]:
    """Descriptions of what of ``n`` appears in ``text`` (one per leaked value and form)."""
    found: dict[str, str] = {}  # the value's description -> the first form seen
    for needle, about in n.whole.items():
        if needle in text:
            found.setdefault(about.split(",")[0], about)
    if n.windows:
        windows = n.windows
        for run in _RUN.finditer(text):
            piece = run.group(0)
            for i in range(len(piece) - WINDOW + 1):
                about = windows.get(piece[i : i + WINDOW])
                if about is not None:
                    found.setdefault(about.split(",")[0], about)
    return list(found.values())


def find_leaks(text: str, secrets: Iterable[Item], *, tokens: Iterable[str] = ()) -> list[str]:
    """Which secrets (values or (id, secret) pairs) and tokens appear in ``text``, in any form:
    described, not shown."""
    return scan(text, needles(secrets, tokens=tokens))


def issued_by(emulator: Any) -> list[Item]:
    """Everything secret the emulator (VGS) handed out since its last reset: (id, secret)
    pairs of accounts and credentials, and every access token its token endpoint issued."""
    return [*emulator.issued_secrets(), *emulator.issued_tokens()]


def assert_no_leak(text: str, *secrets: Item, tokens: Iterable[str] = ()) -> None:
    leaks = find_leaks(text, secrets, tokens=tokens)
    assert not leaks, f"leaked into the output: {leaks[:5]}"
