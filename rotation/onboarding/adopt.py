"""``adopt``: an existing VGS credential becomes a rotated secret, in one call.

The order is the guarantee. First everything that can refuse, reading only: the request
itself; the manager secret and the target secret at AWS (a rotation in progress, another
credential already there); the credential at VGS through the manager (exists, visible,
named within VGS's limits); the document, built from what VGS lists and parsed exactly as
the rotation parses it; the given secret, proved by the rotation's own testSecret checks;
the publisher destination. Only then the writes, each skipped when already done, so that
running the same command again completes an interrupted adoption: the document (a new
secret with the KMS key and tags, or a new AWSCURRENT version), the tags, the token secret,
the rotation configuration, a first published token, the publisher configuration file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rotation.document import DocumentError, ManagerCredentials, SecretDocument, parse_document, parse_manager
from rotation.issuers import IssuerFactory
from rotation.onboarding.discover import Discovery, Found, prove
from rotation.onboarding.existing import (
    KIND_TAG,
    ROLE_TAG,
    ROTATED,
    AdoptStore,
    Existing,
    read_existing,
    refuse_foreign_owner,
    refuse_other_credential,
    refuse_unwritable,
)
from rotation.onboarding.publishing import (
    TOKEN_ROLE,
    Destinations,
    KVDestination,
    TokenSecret,
    check_kv_destination,
    check_token_secret,
    merged_config,
    parse_destinations,
    target,
    write_config,
)
from rotation.onboarding.request import (
    NAME_RULE,
    AdoptError,
    AdoptRequest,
    PartialAdoption,
    check_new_secret_name,
    suggest_name,
)
from rotation.publisher import PublishConfig, PublishTarget, RunResult
from rotation.stores import CURRENT, StoreError
from rotation.vgs import VGSEndpoints, VGSHttp

log = logging.getLogger("rotation.onboarding")
_ENDPOINT_KEYS = ("token_url", "accounts_url", "vault_management_url", "cmp_url", "jwks_url")
Publish = Callable[[PublishTarget], RunResult]


@dataclass(frozen=True)
class AdoptResult:
    """What adopt did (or, in a dry run, would do). Holds the document, secret included:
    show it through :meth:`masked_document` only."""

    secret: str  # the ARN; the name when a dry run would create it
    document: SecretDocument = field(repr=False)
    found: Found
    actions: tuple[str, ...]
    notes: tuple[str, ...]
    publisher_target: Mapping[str, str] | None
    dry_run: bool

    def masked_document(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.document.to_json())
        for key in ("client_secret", "password"):
            if key in data:
                data[key] = "***"
        return data


@dataclass
class _Step:
    text: str
    run: Callable[[], None]


def endpoints_from(hosts: Mapping[str, Any]) -> VGSEndpoints:
    """The VGS endpoints a document with these ``hosts`` speaks to (VGS live where unset)."""
    live = VGSEndpoints.live().as_dict()
    values = {k: hosts.get(k, live.get(k)) for k in _ENDPOINT_KEYS}
    return VGSEndpoints(**values, allow_insecure_http=bool(hosts.get("allow_insecure_http", False)))


class Adoption:
    """Adopt credentials into ``store`` (Secrets Manager), reading VGS over ``http``.
    ``issuers`` builds the rotation's issuers (whose ``test`` proves the secret);
    ``kv`` is Vault's KV v2 for a ``kv:`` destination (default: VaultKV from VAULT_ADDR and
    VAULT_TOKEN); ``publish`` runs the publisher once for a target (default: the real publisher)."""

    def __init__(
        self,
        store: AdoptStore,
        issuers: IssuerFactory,
        http: VGSHttp,
        *,
        kv: KVDestination | None = None,
        publish: Publish | None = None,
    ) -> None:
        self.store = store
        self.issuers = issuers
        self.http = http
        self.kv = kv
        self.publish = publish or self._publish

    # -- reading and refusing ---------------------------------------------------------------

    def run(self, req: AdoptRequest, *, dry_run: bool = False) -> AdoptResult:
        """Check everything, then (unless ``dry_run``) write. Raises :class:`AdoptError`
        before any write, :class:`PartialAdoption` after the first."""
        req.check()
        destinations = parse_destinations(req.publish_to)
        manager_arn, manager = self._manager(req.manager_secret)
        existing = read_existing(self.store, req.secret_id)
        if existing is not None:
            refuse_unwritable(existing, manager_arn)
        else:
            check_new_secret_name(req.secret_id)
        existing_arn = existing.arn if existing else None
        held = existing.inherited if existing else None
        inherited = held if held is not None and held.kind == req.kind else None
        hosts = self._hosts(req, inherited)
        organization = (
            req.organization_id or manager.organization_id or (inherited.organization_id if inherited else None)
        )
        found = self._find(
            req, Discovery(endpoints_from(hosts), manager, manager_arn, self.http), hosts, inherited, organization
        )
        if existing is not None:
            refuse_other_credential(existing, found, req.force)
        refuse_foreign_owner(found, existing_arn, req.force)
        same = inherited if existing is not None and existing.held.holds(found) else None
        doc = self._document(req, found, manager_arn, hosts, same, inherited, organization)
        rotated = existing_arn or req.secret_id
        prove(doc, manager, self.issuers, rotated, req.secret_subject)
        token_secret = None
        if destinations.secret:
            token_secret = check_token_secret(self.store, destinations.secret, req.secret_id, existing_arn)
        if destinations.kv_path:
            check_kv_destination(self._kv(), destinations.kv_path)
        if req.publisher_config:  # refused now if the file cannot take the target
            planned = target(rotated, token_secret.ref if token_secret else None, destinations.kv_path)
            merged_config(req.publisher_config, planned, replaces=(req.secret_id,))
        return self._apply(req, doc, found, existing, destinations, token_secret, dry_run=dry_run)

    @staticmethod
    def _find(
        req: AdoptRequest,
        discovery: Discovery,
        hosts: Mapping[str, Any],
        inherited: SecretDocument | None,
        organization: str | None,
    ) -> Found:
        """The credential as VGS lists it, refused when the rotation could not manage it."""
        if req.kind == "service-account":
            if not organization:
                raise AdoptError("give --organization-id (or store organization_id in the manager secret)", "invalid")
            found = discovery.service_account(req.credential, organization, req.secret, req.secret_subject)
            if found.optional_scopes:
                raise AdoptError(
                    f"{found.ref} has optional scopes ({', '.join(found.optional_scopes)}): the rotation creates "
                    "accounts with required scopes only, so their tokens would differ from this one's. Not supported",
                    "conflict",
                )
            return found
        vault_id = req.vault_id or (inherited.vault_ids[0] if inherited and inherited.vault_ids else None)
        if not vault_id:
            raise AdoptError("give --vault-id: the vault whose access credential this is", "invalid")
        if not hosts.get("vault_api_url"):
            raise AdoptError(
                "give the vault API URL (--host vault_api_url=URL): adopt proves the password with a vault API "
                "call, as every rotation's testSecret does",
                "invalid",
            )
        return discovery.access_credential(req.credential, vault_id)

    def _manager(self, manager_secret: str) -> tuple[str, ManagerCredentials]:
        try:
            desc = self.store.describe(manager_secret)
        except StoreError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            raise AdoptError(
                f"the manager secret {manager_secret} (--manager-secret-arn) was not found in Secrets Manager "
                "(ResourceNotFoundException): check its name or ARN, and AWS_REGION",
                "not-found",
            ) from None
        raw = self.store.get_value(desc.arn, stage=CURRENT)
        if raw is None:
            raise AdoptError(
                f"the manager secret {desc.name} (--manager-secret-arn) has no AWSCURRENT value: store the manager "
                f"there first (vgs-rotate bootstrap-manager --secret-id {desc.name})",
                "not-found",
            )
        return desc.arn, parse_manager(raw)

    def _kv(self) -> KVDestination:
        if self.kv is None:
            from rotation.vault_store import VaultKV

            self.kv = VaultKV()
        return self.kv

    @staticmethod
    def _hosts(req: AdoptRequest, inherited: SecretDocument | None) -> dict[str, Any]:
        """The given hosts; else those of the document the secret holds; else VGS live."""
        if req.hosts is not None:
            return dict(req.hosts)
        if inherited is None:
            return {}
        hosts: dict[str, Any] = json.loads(inherited.to_json()).get("hosts", {})
        return hosts

    def _document(
        self,
        req: AdoptRequest,
        found: Found,
        manager_arn: str,
        hosts: Mapping[str, Any],
        same: SecretDocument | None,
        inherited: SecretDocument | None,
        organization: str | None,
    ) -> SecretDocument:
        """The document, parsed as the rotation parses it. Settings come from the request,
        else the document the secret holds, else the defaults; the credential from VGS."""
        data: dict[str, Any] = dict(inherited.extra) if inherited else {}
        revoke = req.revoke or (inherited.revoke if inherited else "next-rotation")
        cmp_probe = req.cmp_probe if req.cmp_probe is not None else (inherited.test.cmp_probe if inherited else True)
        attempts = inherited.test.attempts if inherited else 5
        data.update(
            kind=found.kind,
            manager_secret_arn=manager_arn,
            revoke=revoke,
            test={"cmp_probe": cmp_probe, "attempts": attempts},
            **({"hosts": dict(hosts)} if hosts else {}),
        )
        if found.kind == "service-account":
            name = req.name or (same.name if same else None) or found.vgs_name or ""
            data.update(
                client_id=found.ref,
                client_secret=req.secret.reveal(),
                organization_id=organization,
                vault_ids=list(found.vaults),
                scopes=list(found.scopes),
                token_lifespan=found.token_lifespan,
                name=name,
            )
        else:
            data.update(
                credential_id=found.ref,
                username=found.username,
                password=req.secret.reveal(),
                vault_ids=list(found.vaults),
                **({"organization_id": organization} if organization else {}),
            )
        try:
            return parse_document(data)
        except DocumentError as exc:
            if exc.field == "name":
                shown = data.get("name") or ""
                raise AdoptError(
                    f"the account's name {shown!r} ({len(shown)} characters) cannot be the base of rotated names: "
                    f"a rotation appends a 9-character suffix within VGS's 20-character limit, so it must be "
                    f"{NAME_RULE}. Give --name, e.g. --name {suggest_name(shown)}",
                    "conflict",
                ) from None
            if exc.field == "scopes":
                raise AdoptError(
                    f"VGS lists no required scope for {found.ref}; the rotation needs at least one", "conflict"
                ) from None
            raise

    # -- writing ------------------------------------------------------------------------------

    def _apply(
        self,
        req: AdoptRequest,
        doc: SecretDocument,
        found: Found,
        existing: Existing | None,
        destinations: Destinations,
        token_secret: TokenSecret | None,
        *,
        dry_run: bool,
    ) -> AdoptResult:
        arn = existing.arn if existing else req.secret_id
        holder = {"arn": arn}  # the secret's ARN, known once created
        steps: list[_Step] = []
        notes: list[str] = []
        key = f"KMS key {req.kms_key_id}" if req.kms_key_id else "the AWS managed key aws/secretsmanager"
        self._document_steps(req, doc, existing, key, holder, steps, notes)
        self._rotation_steps(req, existing, holder, steps, notes)
        final_target = self._publish_steps(req, destinations, token_secret, key, holder, steps)
        self._notes(req, doc, found, notes)
        log.info("adopt: checks passed", extra={"credential": found.ref, "steps": len(steps), "dry_run": dry_run})
        if dry_run:
            shown = final_target() if final_target else None
            return AdoptResult(arn, doc, found, tuple(s.text for s in steps), tuple(notes), shown, True)
        done: list[str] = []
        for i, step in enumerate(steps):
            try:
                step.run()
            except BaseException as exc:
                if i == 0 or isinstance(exc, KeyboardInterrupt):
                    raise
                raise PartialAdoption(step.text, done, exc) from exc
            done.append(step.text)
            log.info("adopt: step done", extra={"step": step.text, "credential": found.ref})
        shown = final_target() if final_target else None
        return AdoptResult(holder["arn"], doc, found, tuple(done), tuple(notes), shown, False)

    def _document_steps(
        self,
        req: AdoptRequest,
        doc: SecretDocument,
        existing: Existing | None,
        key: str,
        holder: dict[str, str],
        steps: list[_Step],
        notes: list[str],
    ) -> None:
        """Create the secret, or write a new version and add the tags it lacks; nothing when done."""
        tags = {KIND_TAG: doc.kind, ROLE_TAG: ROTATED}
        value = doc.to_json()
        if existing is None:

            def create() -> None:
                holder["arn"] = self.store.create_secret(
                    req.secret_id, value, kms_key_id=req.kms_key_id, tags=tags,
                    description=f"VGS {doc.kind} {doc.credential_ref}, rotated by vgs-rotation (vgs-rotate adopt)",
                )  # fmt: skip

            tag_text = ", ".join(f"{k}={v}" for k, v in tags.items())
            steps.append(_Step(f"create secret {req.secret_id} holding the document ({key}; tags {tag_text})", create))
            if not req.kms_key_id:
                notes.append(
                    "no --kms-key-id: encrypted with the AWS managed key; the SAM stack's rotation role can use only "
                    "the stack's key (its KmsKeyArn output)"
                )
            return
        name = existing.settings.name
        held = existing.held.document
        if held is not None and replace(held, rotation=None).to_json() == value:
            notes.append(f"secret {name} already holds this document: no new version")
        else:
            steps.append(
                _Step(
                    f"write a new AWSCURRENT version of {name} holding the document (the value it holds now "
                    "becomes AWSPREVIOUS)",
                    lambda: self.store.put_value(holder["arn"], value),
                )
            )
        missing = {k: v for k, v in tags.items() if existing.settings.tags.get(k) != v}
        if missing:
            text = ", ".join(f"{k}={v}" for k, v in missing.items())
            steps.append(_Step(f"tag {name} {text}", lambda: self.store.tag_secret(holder["arn"], missing)))
        if req.kms_key_id and existing.settings.kms_key_id not in (req.kms_key_id, None):
            notes.append(f"secret {name} exists: its KMS key ({existing.settings.kms_key_id}) is left as it is")

    def _rotation_steps(
        self, req: AdoptRequest, existing: Existing | None, holder: dict[str, str], steps: list[_Step], notes: list[str]
    ) -> None:
        current = existing.settings if existing else None
        if not req.rotation_function or not req.schedule:
            if current is not None and current.rotation_lambda_arn:
                notes.append(f"rotation stays as configured: function {current.rotation_lambda_arn}")
            else:
                notes.append(
                    "rotation is not configured: run doctor, then adopt again with --rotation-function ARN "
                    "--schedule EXPR (the document is not written twice)"
                )
            return
        function, schedule = req.rotation_function, req.schedule
        if (
            current is not None
            and current.rotation_enabled
            and current.rotation_lambda_arn == function
            and current.schedule_expression == schedule
        ):
            notes.append(f"rotation already configured: {function}, {schedule}")
            return
        if req.rotate_immediately:
            how = "and rotate now (Secrets Manager runs the four steps at once)"
        else:
            how = (
                "without rotating now (RotateImmediately=false: Secrets Manager runs testSecret only; the first "
                "rotation comes in the schedule's next window)"
            )
        steps.append(
            _Step(
                f"configure rotation: function {function}, schedule {schedule}, {how}",
                lambda: self._configure(holder["arn"], function, schedule, req.rotate_immediately),
            )
        )

    def _configure(self, arn: str, function: str, schedule: str, immediately: bool) -> None:
        try:
            self.store.configure_rotation(
                arn, function_arn=function, schedule_expression=schedule, rotate_immediately=immediately
            )
        except StoreError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            raise AdoptError(
                f"Secrets Manager cannot find the rotation function {function} (ResourceNotFoundException): check "
                "--rotation-function (a function of this account and region that Secrets Manager may invoke)",
                "not-found",
            ) from None

    def _publish_steps(
        self,
        req: AdoptRequest,
        destinations: Destinations,
        token_secret: TokenSecret | None,
        key: str,
        holder: dict[str, str],
        steps: list[_Step],
    ) -> Callable[[], dict[str, str]] | None:
        """Steps for the publisher destination; returns how to show the target once they ran."""
        if not destinations.labels():
            return None
        token = {"ref": token_secret.ref if token_secret else ""}

        def shown() -> dict[str, str]:
            return target(holder["arn"], token["ref"] or None, destinations.kv_path)

        if token_secret is not None and token_secret.settings is None:
            name = token_secret.name

            def create_token_secret() -> None:
                token["ref"] = self.store.create_secret(
                    name, None, kms_key_id=req.kms_key_id, tags={ROLE_TAG: TOKEN_ROLE},
                    description=f"Short-lived VGS access token published for {req.secret_id} (vgs-rotation)",
                )  # fmt: skip

            steps.append(_Step(f"create token secret {name} ({key}; tag {ROLE_TAG}={TOKEN_ROLE})", create_token_secret))

        def first_token() -> None:
            result = self.publish(PublishTarget(**shown()))
            if result.failed:
                failure = result.failed[0]
                raise failure.cause or AdoptError(f"publishing failed: {failure.error}")

        steps.append(_Step(f"publish a first token to {', '.join(destinations.labels())}", first_token))
        if req.publisher_config:
            path = req.publisher_config

            def add_target() -> None:
                write_config(path, merged_config(path, shown(), replaces=(req.secret_id,)))

            steps.append(_Step(f"add the publisher target to {path}", add_target))
        return shown

    def _publish(self, publish_target: PublishTarget) -> RunResult:
        from rotation.publish_stores import build_publisher

        config = PublishConfig(targets=(publish_target,))
        return build_publisher(config, http=self.http, secrets=self.store, kv=self.kv).run(config.targets)

    @staticmethod
    def _notes(req: AdoptRequest, doc: SecretDocument, found: Found, notes: list[str]) -> None:
        if found.in_use >= found.limit:
            notes.append(
                f"{found.container} holds {found.in_use} of {found.limit} {found.kind.replace('-', ' ')}s: a rotation "
                "needs room for one more, so it fails until one is deleted"
            )
        if doc.revoke == "immediate":
            notes.append(
                f"revoke is immediate: the first rotation deletes {found.ref} at VGS as soon as its successor is "
                "current; move every consumer to the secret (or the published token) before it runs"
            )
        elif doc.revoke == "next-rotation":
            notes.append(
                f"{found.ref} stays valid until the second rotation (revoke next-rotation): move every consumer to "
                "the secret (or the published token) before then"
            )
