"""The token server's RS256 key: signs access tokens, publishes its JWKS, checks bearer tokens.

A fresh 2048-bit key per emulator: no key material on disk, and tokens of one run are
worthless to another.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class TokenRejected(Exception):
    """A bearer token that is malformed, badly signed, expired or from elsewhere."""


class SigningKey:
    def __init__(self) -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._private.public_key()
        self.kid = secrets.token_urlsafe(16)

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._public))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def verify(self, token: str, *, issuer: str, clock: Callable[[], float]) -> dict[str, Any]:
        """The claims of a token this key signed, unexpired by ``clock``; else :class:`TokenRejected`.

        Expiry is checked here, not by pyjwt, so that tests can move a virtual clock.
        """
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise TokenRejected("unknown key id")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                issuer=issuer,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(type(exc).__name__) from None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= clock():
            raise TokenRejected("expired")
        return claims
