"""The manager service account: its secret is readable, it mints, its token carries the
scope to create credentials of the secret's kind, it can list them, and there is room.

VGS's public docs do not name the scopes a manager needs. The emulator and VGS's CLI use
``service-accounts:write`` (service accounts) and ``credentials:write`` (access
credentials, the one VGS documents); ``doctor --canary`` settles it for a real
organization by creating a throwaway credential.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rotation.document import DocumentError, ManagerCredentials, SecretDocument, parse_manager
from rotation.health import checks
from rotation.health.capacity import Capacity
from rotation.issuers import Issuer, Owned
from rotation.stores import CURRENT, SecretStore, StoreError
from rotation.vgs import AccessToken, ClientCredentials, TokenClient, VGSHttp, errors

MANAGER_SCOPE = {"service-account": "service-accounts:write", "access-credentials": "credentials:write"}


def _bootstrap(doc: SecretDocument) -> str:
    return (
        f"put the manager's client id and secret in {doc.manager_secret_arn} "
        "(`python -m infra.aws.bootstrap_manager`, docs/DEPLOY.md step 3)"
    )


def manager_secret(store: SecretStore, doc: SecretDocument) -> tuple[checks.Check, ManagerCredentials | None]:
    cid, title = "manager-secret", "manager secret readable"
    try:
        raw = store.get_value(doc.manager_secret_arn, stage=CURRENT)
    except StoreError as exc:
        fix = (
            f"give this identity, and the rotation function's role, secretsmanager:GetSecretValue and kms:Decrypt "
            f"on {doc.manager_secret_arn}"
        )
        return checks.from_error(cid, title, exc, fix), None
    if raw is None:
        return checks.failed(
            cid, title, f"{doc.manager_secret_arn} does not exist or has no AWSCURRENT value", _bootstrap(doc)
        ), None
    try:
        manager = parse_manager(raw)
    except DocumentError as exc:
        return checks.failed(cid, title, f"{doc.manager_secret_arn}: {exc}", _bootstrap(doc)), None
    return checks.ok(cid, title, f"manager {manager.client_id} in {doc.manager_secret_arn}"), manager


def manager_token(
    doc: SecretDocument, manager: ManagerCredentials, http: Callable[[], VGSHttp]
) -> tuple[checks.Check, AccessToken | None]:
    cid, title = "manager-token", "manager mints a token"
    try:
        with http() as transport:
            client = TokenClient(doc.hosts.token_url, http=transport, allow_insecure_http=doc.hosts.allow_insecure_http)
            token = client.mint(ClientCredentials(manager.client_id, manager.client_secret))
    except checks.LOOK_ERRORS as exc:
        return checks.from_error(cid, title, exc, f"VGS refused the manager credential: {_bootstrap(doc)}"), None
    scopes = sorted(token.granted_scopes)
    detail = f"{manager.client_id} minted a token (expires in {token.expires_in} s; scopes: {' '.join(scopes) or '-'})"
    return checks.ok(cid, title, detail, scopes=scopes, expires_in=token.expires_in), token


def manager_scopes(doc: SecretDocument, token: AccessToken, *, proven_by_canary: bool | None = None) -> checks.Check:
    """The token carries the scope to create credentials of the document's kind. With a
    canary run, what VGS did decides: a created throwaway credential proves the scopes."""
    cid, title = "manager-scopes", "manager may create"
    needed = MANAGER_SCOPE[doc.kind]
    granted = sorted(token.granted_scopes)
    data = {"needed": needed, "granted": granted}
    if proven_by_canary:
        return checks.ok(
            cid,
            title,
            f"the canary created a throwaway credential (token scopes: {' '.join(granted)})",
            proven=True,
            **data,
        )
    if needed in granted:
        return checks.ok(cid, title, f"the manager's token carries {needed}", **data)
    what = "service accounts" if doc.kind == "service-account" else "access credentials"
    return checks.failed(
        cid,
        title,
        f"the manager's token does not carry {needed} (it carries: {' '.join(granted) or 'nothing'})"
        + ("; the canary could not create either" if proven_by_canary is False else ""),
        f"give the manager service account the scope {needed} to create {what}. VGS's docs do not name this "
        "scope: if `vgs-rotate doctor --canary` creates its throwaway credential, the manager's scopes suffice",
        **data,
    )


@dataclass(frozen=True)
class Inventory:
    """One listing through the manager: what this system made for the secret, and everything."""

    owned: tuple[Owned, ...]
    present: frozenset[str]


def _scope_id(doc: SecretDocument) -> str:
    return (doc.organization_id if doc.kind == "service-account" else doc.vault_id) or "?"


def capacity_unknown(doc: SecretDocument, because: str) -> checks.Check:
    """The capacity line when the listing did not happen: its values are null."""
    unseen = Capacity(doc.kind, _scope_id(doc), None)
    return checks.unknown("capacity", "capacity", f"not checked: {because}", checks.FIX_ABOVE, **unseen.as_dict())


def list_title(doc: SecretDocument) -> str:
    return "manager lists " + ("service accounts" if doc.kind == "service-account" else "access credentials")


def inventory(issuer: Issuer, doc: SecretDocument) -> tuple[list[checks.Check], Inventory | None]:
    """The manager lists the credentials of the document's kind, and there is room for a rotation."""
    what = "service accounts" if doc.kind == "service-account" else "access credentials"
    where = f"organization {doc.organization_id}" if doc.kind == "service-account" else f"vault {doc.vault_id}"
    scope_id = _scope_id(doc)
    cid, title = "manager-list", list_title(doc)
    try:
        owned, present = issuer.inventory()
    except checks.LOOK_ERRORS as exc:
        fix = f"give the manager the scope {MANAGER_SCOPE[doc.kind]} on {where}"
        if isinstance(exc, errors.InvalidCredentials):
            fix = _bootstrap(doc)
        listing = checks.from_error(cid, title, exc, fix)
        return [listing, capacity_unknown(doc, f"{what} of {where} could not be listed")], None
    cap = Capacity(doc.kind, scope_id, len(present))
    listing = checks.ok(cid, title, f"listed {len(present)} {what} in {where}", count=len(present))
    if cap.enough:
        room = checks.ok("capacity", "capacity", f"{cap.describe()}: room for a rotation", **cap.as_dict())
    else:
        room = checks.failed("capacity", "capacity", cap.problem(), cap.fix(), **cap.as_dict())
    return [listing, room], Inventory(tuple(owned), frozenset(present))
