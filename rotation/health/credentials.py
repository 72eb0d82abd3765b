"""The credentials the secret holds work as they should: AWSCURRENT passes the test the
rotation's testSecret runs (a token with the document's ``azp`` and scopes, the CMP or
vault API probe), and AWSPREVIOUS does too while the revoke policy keeps it alive."""

from __future__ import annotations

from rotation.document import DocumentError, ManagerCredentials, SecretDocument, parse_document
from rotation.health import checks
from rotation.health.manager import Inventory
from rotation.issuers import Issuer, IssuerFactory
from rotation.stores import PREVIOUS, SecretStore, StoreError
from rotation.vgs import Secret, errors

# An issuer built only to test a credential never uses the manager (its token is minted
# lazily, on the first management call); this stands in when the manager is unreadable.
_TEST_ONLY = ManagerCredentials("(not used: test only)", Secret("-"))


def _test(issuers: IssuerFactory, doc: SecretDocument, manager: ManagerCredentials | None, arn: str) -> None:
    issuer: Issuer = issuers(doc, manager or _TEST_ONLY, arn)
    try:
        issuer.test(doc)
    finally:
        issuer.close()


def _what_works(doc: SecretDocument) -> str:
    if doc.kind == "service-account":
        probe = " and the CMP probe accepted it" if doc.test.cmp_probe and doc.hosts.cmp_url else ""
        return f"minted a token with azp {doc.client_id} and scopes {' '.join(doc.scopes)}{probe}"
    return "authenticated to the vault API"


def current(issuers: IssuerFactory, doc: SecretDocument, manager: ManagerCredentials | None, arn: str) -> checks.Check:
    cid, title = "current-credential", "AWSCURRENT works"
    try:
        _test(issuers, doc, manager, arn)
    except checks.TEST_ERRORS as exc:
        fix = (
            "the credential consumers use does not pass the rotation's test: if VGS refused it, it was deleted or "
            "changed outside the rotation: rotate now (`vgs-rotate rotate SECRET_ID`); if the token lacks a scope, "
            "fix `scopes` in the document (VGS cannot change an account's scopes: the next rotation creates one "
            "with the document's)"
        )
        return checks.from_error(cid, title, exc, fix)
    return checks.ok(cid, title, f"{doc.credential_ref} {_what_works(doc)}")


def is_placeholder(doc: SecretDocument) -> bool:
    """A seed document's placeholder (the SAM example starts so): a client id VGS cannot have
    issued, since VGS's begin with the organization id's first 9 characters and a dash."""
    org = doc.organization_id or ""
    return doc.kind == "service-account" and bool(org) and not (doc.client_id or "").startswith(org[:9] + "-")


def seed(doc: SecretDocument) -> checks.Check:
    """AWSCURRENT holds a placeholder: the first rotation creates the credential."""
    return checks.skipped(
        "current-credential", "AWSCURRENT works",
        f"a seed: {doc.credential_ref} is a placeholder, not a VGS account; the first rotation creates the "
        "credential (consumers have none until then)",
        seed=True,
    )  # fmt: skip


def previous(
    store: SecretStore,
    issuers: IssuerFactory,
    current_doc: SecretDocument,
    manager: ManagerCredentials | None,
    arn: str,
    listed: Inventory | None,
) -> checks.Check:
    """Under ``next-rotation`` and ``never`` AWSPREVIOUS must still work (consumers that have
    not moved use it); under ``immediate`` its credential must be gone."""
    cid, title = "previous-credential", "AWSPREVIOUS as the policy says"
    try:
        raw = store.get_value(arn, stage=PREVIOUS)
    except StoreError as exc:
        return checks.from_error(cid, title, exc, "give this identity secretsmanager:GetSecretValue on the secret")
    if raw is None:
        return checks.skipped(cid, title, "no AWSPREVIOUS version (not rotated yet)")
    try:
        doc = parse_document(raw)
    except DocumentError as exc:
        return checks.failed(cid, title, f"AWSPREVIOUS: {exc}", "consumers still on AWSPREVIOUS need a valid document")
    ref = doc.credential_ref
    if ref == current_doc.credential_ref:
        return checks.skipped(cid, title, "AWSPREVIOUS holds the same credential as AWSCURRENT")
    if is_placeholder(doc):
        return checks.skipped(cid, title, f"AWSPREVIOUS holds the seed's placeholder {ref}: nothing to keep working")
    if current_doc.revoke == "immediate":
        if listed is None:
            return checks.unknown(cid, title, f"revoke immediate: whether {ref} is gone is not known (VGS not listed)")
        if ref in listed.present:
            return checks.failed(
                cid,
                title,
                f"revoke immediate, yet AWSPREVIOUS's {ref} still exists at VGS",
                "the promotion's clean-up did not run (a finishSecret died): the next rotation deletes it, or "
                "delete it at VGS now",
            )
        return checks.ok(cid, title, f"revoke immediate: AWSPREVIOUS's {ref} is deleted, as it should be")
    try:
        _test(issuers, doc, manager, arn)
    except checks.TEST_ERRORS as exc:
        fix = (
            f"revoke {current_doc.revoke} keeps AWSPREVIOUS valid until the next rotation for consumers that have "
            "not moved yet; it no longer works (deleted outside the rotation?): make sure every consumer reads "
            "AWSCURRENT"
        )
        if isinstance(exc, errors.TokenValidationError):
            fix = "AWSPREVIOUS's account does not have the document's scopes: consumers on it lack them"
        return checks.from_error(cid, title, exc, fix)
    return checks.ok(
        cid, title, f"{ref} {_what_works(doc)} (revoke {current_doc.revoke} keeps it until the next rotation)"
    )
