"""Is the secret set up to be rotated: its document parses, rotation is configured (or the
secret is manual-only, and says so), and the fleet view can find it."""

from __future__ import annotations

from rotation.document import DocumentError, SecretDocument, parse_document
from rotation.health import checks
from rotation.health.catalog import KIND_TAG, SecretInfo
from rotation.stores import CURRENT, SecretStore, StoreError

# A rotation function whose name holds this is taken for this project's (the SAM template
# names it vgs-rotation-ENV-rotation); ``status --all --function`` names others.
FUNCTION_MARK = "vgs-rotation"
DOCS = "the README's 'The secret document'"


def document(store: SecretStore, info: SecretInfo) -> tuple[checks.Check, SecretDocument | None]:
    """The AWSCURRENT value parses as a secret document."""
    title = "secret document"
    current = info.version_with(CURRENT)
    try:
        raw = store.get_value(info.arn, stage=CURRENT)
    except StoreError as exc:
        return checks.from_error(
            "document", title, exc, "give this identity secretsmanager:GetSecretValue (and kms:Decrypt) on the secret"
        ), None
    if raw is None:
        return checks.failed(
            "document",
            title,
            "AWSCURRENT has no value",
            f"store a secret document as the secret's value (see {DOCS})",
        ), None
    try:
        doc = parse_document(raw)
    except DocumentError as exc:
        return checks.failed("document", title, str(exc), f"fix the field named (see {DOCS})", field=exc.field), None
    detail = f"{doc.kind} {doc.credential_ref} (AWSCURRENT version {current}), revoke {doc.revoke}"
    return checks.ok("document", title, detail, kind=doc.kind, credential=doc.credential_ref, revoke=doc.revoke), doc


def rotation(info: SecretInfo) -> checks.Check:
    """A rotation function, rotation enabled and a schedule; or manual-only, said as such."""
    title = "rotation configured"
    data = {
        "function": info.rotation_function,
        "enabled": info.rotation_enabled,
        "schedule": info.schedule,
        "next_rotation": info.next_rotation.isoformat() if info.next_rotation else None,
        "manual_only": False,
    }
    enable = (
        f"aws secretsmanager rotate-secret --secret-id {info.name} --rotation-lambda-arn FUNCTION_ARN "
        '--rotation-rules \'{"ScheduleExpression": "rate(7 days)"}\' (see docs/DEPLOY.md)'
    )
    if not info.rotation_function and not info.rotation_enabled:
        data["manual_only"] = True
        return checks.ok(
            "rotation",
            title,
            f"manual-only: no rotation function, rotation not enabled; `vgs-rotate rotate {info.name} --local` "
            "rotates it, Secrets Manager never will",
            **data,
        )
    if not info.rotation_function:
        return checks.failed("rotation", title, "rotation is enabled but no rotation function is set", enable, **data)
    if not info.rotation_enabled:
        return checks.failed(
            "rotation",
            title,
            f"rotation function {info.function_name} is set but rotation is disabled: Secrets Manager will not rotate",
            enable,
            **data,
        )
    if not info.schedule:
        return checks.failed("rotation", title, "rotation is enabled without a schedule", enable, **data)
    window = f", window {info.window}" if info.window else ""
    following = f"; next {info.next_rotation:%Y-%m-%d %H:%M} UTC" if info.next_rotation else ""
    return checks.ok(
        "rotation", title, f"function {info.function_name}, enabled, {info.schedule}{window}{following}", **data
    )


def found_by_fleet(info: SecretInfo, doc: SecretDocument | None) -> checks.Check:
    """``vgs-rotate status --all`` lists the secret: tagged with its kind, or rotated by this
    project's function (decision 3 of the project)."""
    title = "found by status --all"
    tag = info.kind_tag
    kind = doc.kind if doc else "KIND"
    fix = f"aws secretsmanager tag-resource --secret-id {info.name} --tags Key={KIND_TAG},Value={kind}"
    if tag is not None and doc is not None and tag != doc.kind:
        return checks.failed("fleet-tag", title, f"tag {KIND_TAG}={tag} but the document's kind is {doc.kind}", fix)
    if tag is not None:
        return checks.ok("fleet-tag", title, f"tagged {KIND_TAG}={tag}", tag=tag)
    name = info.function_name
    if name and FUNCTION_MARK in name:
        return checks.ok("fleet-tag", title, f"rotated by {name} (no {KIND_TAG} tag)", tag=None)
    return checks.failed(
        "fleet-tag",
        title,
        f"no {KIND_TAG} tag" + (f" and the rotation function {name} is not recognised" if name else ""),
        fix + (f" (or run `vgs-rotate status --all --function {name}`)" if name else ""),
        tag=None,
    )
