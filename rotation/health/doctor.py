"""``vgs-rotate doctor``: every reason the next rotation of one secret would fail, as a
checklist, read-only unless the canary is asked for.

Order: the secret (document, rotation, fleet tag), the hosts, the manager (secret, token,
scopes, listing, capacity), the credentials the secret holds, what rotations left behind,
the published token, then the canary. A check that needs one that did not pass says
"not checked" (unknown) rather than guessing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rotation.document import ManagerCredentials, SecretDocument
from rotation.health import checks, configuration, credentials, hosts, leftovers, manager, publication
from rotation.health.canary import Canary, Observation, scopes_observation
from rotation.health.catalog import SecretCatalog, SecretInfo
from rotation.health.checks import Check, Status
from rotation.health.secret_view import look
from rotation.issuers import Issuer, IssuerFactory
from rotation.stores import CURRENT, PENDING, KVStore, SecretStore
from rotation.vgs import AccessToken, VGSHttp


@dataclass(frozen=True)
class Tools:
    """What doctor reads and speaks through. ``http`` makes a fresh transport per use."""

    store: SecretStore
    catalog: SecretCatalog
    issuers: IssuerFactory
    http: Callable[[], VGSHttp]
    kv: Callable[[], KVStore] | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Options:
    destinations: tuple[publication.Destination, ...] = ()
    min_remaining: float = publication.DEFAULT_MIN_REMAINING
    canary: bool = False


@dataclass
class Report:
    arn: str
    name: str
    checks: list[Check] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)

    @property
    def verdict(self) -> Status:
        return checks.verdict(self.checks)

    def as_dict(self) -> dict[str, Any]:
        unknown = [f"{c.title}: {c.detail}" for c in self.checks if c.status == checks.UNKNOWN]
        return {
            "secret": {"arn": self.arn, "name": self.name},
            "verdict": self.verdict,
            "counts": checks.counts(self.checks),
            "checks": [c.as_dict() for c in self.checks],
            "observations": [o.as_dict() for o in self.observations],
            "errors": unknown,
        }


_NEEDS_DOCUMENT = (
    ("hosts", "VGS hosts answer"),
    ("manager-secret", "manager secret readable"),
    ("manager-token", "manager mints a token"),
    ("manager-list", "manager lists credentials"),
    ("capacity", "capacity"),
    ("current-credential", "AWSCURRENT works"),
    ("previous-credential", "AWSPREVIOUS as the policy says"),
    ("orphans", "no orphaned credentials"),
)


_NEEDS_MANAGER = (
    ("manager-token", "manager mints a token"),
    ("manager-list", "manager lists credentials"),
    ("capacity", "capacity"),
)


def diagnose(secret_id: str, tools: Tools, options: Options = Options()) -> Report:
    """Run every check for ``secret_id``. Raises only when the secret itself cannot be
    described (not found, no access): then there is nothing to check."""
    info = tools.catalog.info(secret_id)
    report = Report(info.arn, info.name)
    add = report.checks.append
    first, doc = configuration.document(tools.store, info)
    add(first)
    add(configuration.rotation(info))
    add(configuration.found_by_fleet(info, doc))
    if doc is None:
        report.checks += [
            checks.blocked(cid, title, "the secret document does not parse") for cid, title in _NEEDS_DOCUMENT
        ]
        report.checks = [checks.naming(c, info.name) for c in report.checks]
        return report
    report.checks += hosts.check_hosts(doc, tools.http)
    _Session(tools, options, info, doc, report).run()
    report.checks = [checks.naming(c, info.name) for c in report.checks]
    return report


@dataclass
class _Session:
    """The checks that speak to VGS, sharing one manager issuer."""

    tools: Tools
    options: Options
    info: SecretInfo
    doc: SecretDocument
    report: Report
    issuer: Issuer | None = None

    def add(self, check: checks.Check) -> None:
        self.report.checks.append(check)

    def run(self) -> None:
        tools, doc = self.tools, self.doc
        secret_check, creds = manager.manager_secret(tools.store, doc)
        self.add(secret_check)
        token: AccessToken | None = None
        if creds is None:
            self._blocked("the manager secret is not readable", _NEEDS_MANAGER)
        else:
            token_check, token = manager.manager_token(doc, creds, tools.http)
            self.add(token_check)
        scopes_at = len(self.report.checks)
        if token is not None:
            self.add(manager.manager_scopes(doc, token))
        try:
            self._vgs(creds, token, scopes_at)
        finally:
            if self.issuer is not None:
                self.issuer.close()

    def _vgs(self, creds: ManagerCredentials | None, token: AccessToken | None, scopes_at: int) -> None:
        tools, doc, info = self.tools, self.doc, self.info
        listed = None
        if creds is not None and token is None:
            self._blocked("the manager cannot mint a token", _NEEDS_MANAGER[1:])
        elif creds is not None:
            self.issuer = tools.issuers(doc, creds, info.arn)
            listing, listed = manager.inventory(self.issuer, doc)
            self.report.checks += listing
        if credentials.is_placeholder(doc):
            self.add(credentials.seed(doc))
        else:
            self.add(credentials.current(tools.issuers, doc, creds, info.arn))
        self.add(credentials.previous(tools.store, tools.issuers, doc, creds, info.arn, listed))
        canary: list[Check] = []
        if self.options.canary:  # before the leftovers look: it removes earlier canaries' leftovers
            canary = self._canary(listed, token, scopes_at)
        self._leftovers(creds is not None and token is not None, listed)
        self.report.checks += publication.check(
            list(self.options.destinations),
            doc,
            secrets=tools.store,
            kv=tools.kv,
            min_remaining=self.options.min_remaining,
        )
        self.report.checks += canary

    def _blocked(self, because: str, which: tuple[tuple[str, str], ...]) -> None:
        for cid, title in which:
            if cid == "capacity":
                self.add(manager.capacity_unknown(self.doc, because))
            else:
                self.add(checks.blocked(cid, manager.list_title(self.doc) if cid == "manager-list" else title, because))

    def _leftovers(self, vgs_usable: bool, listed: manager.Inventory | None) -> None:
        tools = self.tools
        try:
            view = look(tools.store, tools.issuers if vgs_usable else None, self.info.arn)
        except checks.LOOK_ERRORS as exc:
            fix = "let this identity read the secret's versions"
            self.add(checks.from_error("stuck-pending", "no stuck AWSPENDING", exc, fix))
            self.add(checks.from_error("orphans", "no orphaned credentials", exc, fix))
            return
        dates = tools.catalog.version_dates(self.info.arn) if view.stuck_pending else None
        self.add(leftovers.stuck_pending(view, dates, tools.clock()))
        if not vgs_usable:
            self.add(checks.blocked("orphans", "no orphaned credentials", "the manager cannot list VGS"))
            return
        self.add(leftovers.orphans(view, listed))

    def _canary(self, listed: manager.Inventory | None, token: AccessToken | None, scopes_at: int) -> list[Check]:
        """The canary's checks (shown last); its observations go to the report."""
        why = self._canary_refused(listed)
        granted = sorted(token.granted_scopes) if token else None
        if why is not None or self.issuer is None or listed is None:
            self.report.observations.append(scopes_observation(self.doc.kind, granted, None))
            return [checks.skipped("canary", "canary", f"not run: {why or 'the manager cannot list'}")]
        result = Canary(self.issuer, self.doc, clock=self.tools.clock, sleep=self.tools.sleep).run(
            listed, {self.doc.credential_ref}
        )
        self.report.observations += [scopes_observation(self.doc.kind, granted, result.created), *result.observations]
        if token is not None and result.created is not None:
            self.report.checks[scopes_at] = manager.manager_scopes(self.doc, token, proven_by_canary=result.created)
        return result.checks

    def _canary_refused(self, listed: manager.Inventory | None) -> str | None:
        """Why the canary must not run now, or None."""
        statuses = {c.id: c.status for c in self.report.checks}
        if listed is None or statuses.get("manager-list") != checks.OK:
            return "the manager cannot list credentials"
        if statuses.get("capacity") != checks.OK:
            return "no room for a throwaway credential without risking a real rotation (see capacity)"
        pending, current = self.info.version_with(PENDING), self.info.version_with(CURRENT)
        if pending and pending != current:
            return "a rotation is under way or stuck (AWSPENDING); its finishSecret would delete the canary"
        return None
