"""Mint short-lived access tokens and publish them where consumers already read secrets.

Store-agnostic: it speaks :class:`rotation.stores.SecretStore` (Secrets Manager) and
:class:`rotation.stores.KVStore` (Vault/OpenBao KV v2); ``rotation.publish_stores`` wires
the boto3 and hvac implementations. For each target, one run:

1. reads the credential document: the source secret's AWSCURRENT version, by explicit
   ``VersionStage`` (never a cache keyed without the stage), or a KV v2 path;
2. reads what each destination holds and decides whether it must be replaced:
   ``missing`` / ``unparseable`` / ``client-changed`` (AWSCURRENT now holds another
   credential: the first run after a rotation's finishSecret) / ``expiring`` (less than
   the threshold of life left). Otherwise the target is ``fresh-skipped``: no write;
3. mints one token with the AWSCURRENT credential and writes it to each destination that
   needs it (``put_secret_value``; KV v2 with check-and-set and the expiry in custom metadata).
   The token comes from a :class:`rotation.vgs.TokenCache` keyed by the credential's version:
   targets that share a credential mint once per run, and a warm Lambda reuses a token that
   still has more than the threshold (plus the cache's margin) of life.

Why the default threshold is the schedule period plus a margin: a run leaves every
published token with at least ``threshold`` seconds of life, so until the next run (one
period later) it keeps at least ``margin``, which covers schedule jitter and the
consumers' skew. And a write always publishes a full-life token that the next runs skip
until it falls below the threshold, so a 20-minute token on a 10-minute schedule is written
at most once per run, i.e. once every 10 minutes per secret: the PutSecretValue guidance.

Targets run on a bounded pool of workers (``concurrency``, 1-64: the config field,
``--concurrency`` in the CLI): each worker takes the next target when it is done with one, so
a slow or failing target holds one worker only, never the others. A token request that is
throttled (429, waited out per ``Retry-After``) or meets an unavailable token server is not
retried in a sleeping worker: the target goes back into a queue ordered by due time with
what it has read, its worker takes the next target, and the target's token request is sent
again once the wait has passed (see :mod:`rotation.scheduling.due_queue`). The waits, the
attempts and the time a target may spend on them are the transport's :class:`RetryPolicy`;
a target that exhausts them fails alone. The result lists every outcome with an error
message that holds no secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rotation.document import DocumentError, SecretDocument, parse_document
from rotation.published import PublishedToken, PublishedTokenError
from rotation.scheduling import Later, run_bounded
from rotation.stores import CURRENT, CasConflict, KVEntry, KVStore, SecretStore, StoreError, split_kv_path
from rotation.vgs import AccessToken, ClientCredentials, TokenCache, TokenClient, TokenClients, VGSHttp, errors

log = logging.getLogger("rotation.publisher")

DEFAULT_SCHEDULE_SECONDS = 600
DEFAULT_MARGIN_SECONDS = 120
DEFAULT_THRESHOLD_SECONDS = DEFAULT_SCHEDULE_SECONDS + DEFAULT_MARGIN_SECONDS
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64
MAX_TARGETS = 1000

Outcome = Literal["published", "fresh-skipped", "failed"]
PUBLISHED: Outcome = "published"
SKIPPED: Outcome = "fresh-skipped"
FAILED: Outcome = "failed"

# Exceptions whose messages are built by this project from names and codes, never values.
_SAFE_ERRORS: tuple[type[BaseException], ...] = (
    errors.VGSError,
    errors.InsecureURL,
    StoreError,
    DocumentError,
    PublishedTokenError,
)


class ConfigError(ValueError):
    """The publisher configuration is malformed; the message names the field."""


class PublishError(Exception):
    """Raised after a run in which at least one target failed (the Lambda's failure signal)."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        failed = result.failed
        shown = "; ".join(f"{o.target}: {o.error}" for o in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        super().__init__(f"{len(failed)} of {len(result.outcomes)} targets failed: {shown}{more}")


class TargetError(Exception):
    """A target cannot be published; the message is safe to show."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class PublishTarget:
    """One credential (Secrets Manager secret or KV v2 path) and where its token goes."""

    credential_secret_id: str | None = None
    credential_vault_path: str | None = None
    token_secret_id: str | None = None
    vault_path: str | None = None
    scope: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if bool(self.credential_secret_id) == bool(self.credential_vault_path):
            raise ConfigError("target: give exactly one of 'credential_secret_id' or 'credential_vault_path'")
        if not self.token_secret_id and not self.vault_path:
            raise ConfigError(f"target {self.label}: give 'token_secret_id' and/or 'vault_path' (where to publish)")
        if self.token_secret_id and self.token_secret_id == self.credential_secret_id:
            raise ConfigError(
                f"target {self.label}: 'token_secret_id' must not be the credential secret "
                "(writing a rotated secret abandons its rotation)"
            )
        for path in (self.credential_vault_path, self.vault_path):
            if path:
                try:
                    split_kv_path(path)
                except ValueError as exc:
                    raise ConfigError(f"target {self.label}: {exc}") from None

    @property
    def label(self) -> str:
        return self.name or self.credential_secret_id or self.credential_vault_path or "?"

    @property
    def destinations(self) -> tuple[str, ...]:
        out = []
        if self.token_secret_id:
            out.append(f"sm:{self.token_secret_id}")
        if self.vault_path:
            out.append(f"kv:{self.vault_path}")
        return tuple(out)


_TARGET_KEYS = {"credential_secret_id", "credential_vault_path", "token_secret_id", "vault_path", "scope", "name"}
_CONFIG_KEYS = {
    "targets", "refresh_threshold_seconds", "schedule_period_seconds", "margin_seconds", "concurrency", "vault",
}  # fmt: skip
_VAULT_KEYS = {"addr", "namespace"}


@dataclass(frozen=True)
class PublishConfig:
    """``{"targets": [...], "refresh_threshold_seconds": 720, "concurrency": 8, "vault": {"addr": ...}}``.

    Without ``refresh_threshold_seconds`` the threshold is ``schedule_period_seconds``
    (default 600) plus ``margin_seconds`` (default 120). The Vault token is never part of
    the configuration: it comes from ``VAULT_TOKEN``.
    """

    targets: tuple[PublishTarget, ...]
    refresh_threshold_seconds: float = DEFAULT_THRESHOLD_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    vault_addr: str | None = None
    vault_namespace: str | None = None

    def __post_init__(self) -> None:
        if not self.targets:
            raise ConfigError("publish config: field 'targets' must hold at least one target")
        if len(self.targets) > MAX_TARGETS:
            raise ConfigError(f"publish config: field 'targets' holds more than {MAX_TARGETS} targets")
        seen: set[str] = set()
        for target in self.targets:
            for dest in target.destinations:
                if dest in seen:
                    raise ConfigError(f"publish config: destination {dest} appears in more than one target")
                seen.add(dest)
        if not 0 < self.refresh_threshold_seconds <= 86_400:
            raise ConfigError("publish config: field 'refresh_threshold_seconds' must be in (0, 86400]")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(f"publish config: field 'concurrency' must be from 1 to {MAX_CONCURRENCY}")

    @property
    def uses_vault(self) -> bool:
        return any(t.vault_path or t.credential_vault_path for t in self.targets)

    @property
    def uses_aws(self) -> bool:
        return any(t.token_secret_id or t.credential_secret_id for t in self.targets)

    @classmethod
    def from_json(cls, raw: str | bytes) -> PublishConfig:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ConfigError("publish config is not valid JSON") from None
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Any) -> PublishConfig:
        if not isinstance(data, Mapping):
            raise ConfigError("publish config must be a JSON object")
        unknown = sorted(set(data) - _CONFIG_KEYS)
        if unknown:
            raise ConfigError(f"publish config: unknown field '{unknown[0]}'")
        raw_targets = data.get("targets")
        if not isinstance(raw_targets, list):
            raise ConfigError("publish config: field 'targets' must be a list")
        targets = []
        for i, raw in enumerate(raw_targets):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"publish config: field 'targets[{i}]' must be an object")
            bad = sorted(set(raw) - _TARGET_KEYS)
            if bad:
                raise ConfigError(f"publish config: unknown field 'targets[{i}].{bad[0]}'")
            for key, value in raw.items():
                if value is not None and (not isinstance(value, str) or not value.strip()):
                    raise ConfigError(f"publish config: field 'targets[{i}].{key}' must be a non-empty string")
            targets.append(PublishTarget(**{k: v for k, v in raw.items() if v is not None}))
        threshold = data.get("refresh_threshold_seconds")
        if threshold is None:
            period = _number(data, "schedule_period_seconds", DEFAULT_SCHEDULE_SECONDS)
            threshold = period + _number(data, "margin_seconds", DEFAULT_MARGIN_SECONDS)
        else:
            threshold = _number(data, "refresh_threshold_seconds", DEFAULT_THRESHOLD_SECONDS)
        concurrency = data.get("concurrency", DEFAULT_CONCURRENCY)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise ConfigError("publish config: field 'concurrency' must be an integer")
        vault = data.get("vault") or {}
        if not isinstance(vault, Mapping) or set(vault) - _VAULT_KEYS:
            raise ConfigError("publish config: field 'vault' must be an object with 'addr' and/or 'namespace'")
        return cls(
            targets=tuple(targets),
            refresh_threshold_seconds=float(threshold),
            concurrency=concurrency,
            vault_addr=vault.get("addr"),
            vault_namespace=vault.get("namespace"),
        )


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"publish config: field '{key}' must be a non-negative number of seconds")
    return float(value)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TargetOutcome:
    """What happened to one target. Holds no token and no secret."""

    target: str
    outcome: Outcome
    reason: str
    client_id: str | None = None
    expires_at: int | None = None
    written: tuple[str, ...] = ()
    error: str | None = None
    warning: str | None = None
    seconds: float = 0.0
    # The exception behind a failure, for callers that classify it (the CLI's exit code).
    cause: BaseException | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "outcome": self.outcome,
            "reason": self.reason,
            "client_id": self.client_id,
            "expires_at": self.expires_at,
            "written": list(self.written),
            "error": self.error,
            "warning": self.warning,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class RunResult:
    outcomes: tuple[TargetOutcome, ...]
    seconds: float = 0.0

    def _with(self, outcome: Outcome) -> list[TargetOutcome]:
        return [o for o in self.outcomes if o.outcome == outcome]

    @property
    def failed(self) -> list[TargetOutcome]:
        return self._with(FAILED)

    @property
    def published(self) -> list[TargetOutcome]:
        return self._with(PUBLISHED)

    @property
    def skipped(self) -> list[TargetOutcome]:
        return self._with(SKIPPED)

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {PUBLISHED: len(self.published), SKIPPED: len(self.skipped), FAILED: len(self.failed)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "targets": [o.as_dict() for o in self.outcomes],
        }

    def raise_for_failures(self) -> None:
        if not self.ok:
            raise PublishError(self)


def safe_message(exc: BaseException) -> str:
    """The exception's message if this project built it (no values), else its type only."""
    if isinstance(exc, (*_SAFE_ERRORS, TargetError, ConfigError)):
        return str(exc)
    return f"unexpected {type(exc).__name__}"


# --------------------------------------------------------------------------- the publisher


@dataclass
class _Destination:
    kind: Literal["sm", "kv"]
    ref: str
    current: PublishedToken | None = None
    reason: str | None = None  # None: fresh
    kv_version: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.ref}"


def document_from_kv(entry: KVEntry) -> SecretDocument:
    """A credential document kept in KV v2: the data itself, or a JSON string under ``document``."""
    raw = entry.data.get("document")
    if isinstance(raw, str) and "kind" not in entry.data:
        return parse_document(raw)
    return parse_document(dict(entry.data))


def decide(
    current: PublishedToken | None, client_id: str, now: float, threshold: float, *, unparseable: bool = False
) -> str | None:
    """Why a destination needs a new token, or None when what it holds is fresh."""
    if unparseable:
        return "unparseable"
    if current is None:
        return "missing"
    if current.client_id != client_id:
        return "client-changed"
    if current.remaining(now) < threshold:
        return "expiring"
    return None


_REASON_ORDER = ("client-changed", "missing", "unparseable", "expiring")


@dataclass(frozen=True)
class _Stale:
    """A target that needs a token: what was read, kept while its token request waits."""

    version: str
    doc: SecretDocument
    stale: tuple[_Destination, ...]
    reason: str


@dataclass
class _Job:
    """One target's progress through a run."""

    target: PublishTarget
    began: float | None = None  # perf_counter at its first step: the outcome's ``seconds``
    stale: _Stale | None = None
    attempts: int = 0  # token requests sent
    first_attempt: float = 0.0  # on the retry policy's clock: its ``max_total`` counts from here


class Publisher:
    """Publishes tokens for targets. Thread-safe: ``run`` calls :meth:`publish_target` from a pool."""

    def __init__(
        self,
        *,
        secrets: SecretStore | None = None,
        kv: KVStore | None = None,
        http: VGSHttp | None = None,
        token_client: Callable[[SecretDocument], TokenClient] | None = None,
        threshold: float = DEFAULT_THRESHOLD_SECONDS,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        tokens: TokenCache | None = None,
    ) -> None:
        """``tokens``: where minted tokens are kept for reuse (the Lambda passes one that
        lives as long as its container); default, one for this publisher."""
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be from 1 to {MAX_CONCURRENCY}")
        self.secrets = secrets
        self.kv = kv
        self.http = http or VGSHttp(timeout=10.0)
        self.threshold = threshold
        self.concurrency = concurrency
        self.clock = clock
        self._token_client = token_client
        self._lanes: dict[int, TokenClients] = {}
        self._lanes_lock = threading.Lock()
        self.tokens = tokens if tokens is not None else TokenCache(clock=clock, max_entries=MAX_TARGETS)

    # -- one target

    def publish_target(self, target: PublishTarget) -> TargetOutcome:
        """Publish one target if needed (waiting out its retries). Never raises for the
        target's own failures."""
        return self.run([target]).outcomes[0]

    def _step(self, job: _Job, worker: int) -> TargetOutcome | Later:
        """Advance one target: read and decide (first step only), request a token, write.
        A retryable token-request failure within the policy's budget returns :class:`Later`."""
        if job.began is None:
            job.began = time.perf_counter()
        try:
            if job.stale is None:
                decided = self._decide(job.target)
                if isinstance(decided, TargetOutcome):
                    return _timed(decided, time.perf_counter() - job.began)
                job.stale = decided
            token = self._token(job, worker)
            if isinstance(token, Later):
                return token
            outcome = self._write_all(job.target, job.stale, token)
        except Exception as exc:
            log.warning(
                "publish target failed",
                extra={"target": job.target.label, "error": safe_message(exc), "error_type": type(exc).__name__},
            )
            outcome = TargetOutcome(job.target.label, FAILED, "error", error=safe_message(exc), cause=exc)
        return _timed(outcome, time.perf_counter() - job.began)

    def _decide(self, target: PublishTarget) -> TargetOutcome | _Stale:
        """Read the credential and the destinations: the skip outcome, or what needs a token."""
        version, doc = self._credential_document(target)
        if doc.kind != "service-account" or not doc.client_id or doc.client_secret is None:
            raise TargetError(f"credential of kind {doc.kind} mints no access token: only service-account documents")
        now = self.clock()
        dests = [self._read_destination(kind, ref, doc.client_id, now) for kind, ref in _dest_refs(target)]
        stale = tuple(d for d in dests if d.reason is not None)
        if not stale:
            first = dests[0].current
            assert first is not None
            return TargetOutcome(target.label, SKIPPED, "fresh", client_id=first.client_id, expires_at=first.expires_at)
        reason = next(r for r in _REASON_ORDER if any(d.reason == r for d in stale))
        return _Stale(version, doc, stale, reason)

    def _token(self, job: _Job, worker: int) -> AccessToken | Later:
        """The target's token: cached, or minted with one request. A retryable failure the
        policy would wait out comes back as :class:`Later` (the queue waits, not a worker)."""
        stale = job.stale
        assert stale is not None and stale.doc.client_id and stale.doc.client_secret is not None
        policy = self.http.retry
        if job.attempts == 0:
            job.first_attempt = policy.clock()
        job.attempts += 1
        try:
            # A token with more than the threshold of life stays fresh until the next run, as
            # a new one would: reuse it (same credential version and scope), else mint.
            return self.tokens.token(
                self._client_for(stale.doc, worker),
                ClientCredentials(stale.doc.client_id, stale.doc.client_secret),
                version=stale.version,
                scope=job.target.scope,
                min_life=self.threshold,
            )
        except errors.VGSError as exc:
            wait = policy.next_wait(exc, attempts=job.attempts, elapsed=policy.clock() - job.first_attempt)
            if wait is None:
                raise
            status = f", HTTP {exc.status}" if exc.status else ""
            log.warning(
                "target %s: token request failed (%s%s); retrying in %.1f s (attempt %d of %d), "
                "publishing the other targets meanwhile",
                job.target.label, type(exc).__name__, status, wait, job.attempts + 1, policy.max_attempts,
                extra={
                    "target": job.target.label,
                    "operation": "mint token",
                    "attempt": job.attempts,
                    "next_attempt": job.attempts + 1,
                    "max_attempts": policy.max_attempts,
                    "error": type(exc).__name__,
                    "status": exc.status,
                    "wait_seconds": round(wait, 3),
                    # the error's class and status only: a server's error text is not repeated
                    "detail": f"target {job.target.label}: token request failed ({type(exc).__name__}{status})",
                },
            )  # fmt: skip
            return Later(wait)

    def _write_all(self, target: PublishTarget, stale: _Stale, token: AccessToken) -> TargetOutcome:
        doc, reason = stale.doc, stale.reason
        assert doc.client_id is not None
        if token.client_id is not None and token.client_id != doc.client_id:
            raise TargetError("minted token was issued to another client than the credential's (azp mismatch)")
        published = PublishedToken.from_access_token(token, doc.client_id)
        warning = None
        if published.remaining(self.clock()) <= self.threshold:
            warning = (
                f"token life ({token.expires_in} s) is not above the refresh threshold ({self.threshold:g} s): "
                "every run publishes, and consumers can see it lapse between runs"
            )
        written: list[str] = []
        failures: list[str] = []
        cause: BaseException | None = None
        for dest in stale.stale:
            try:
                if self._write(dest, published):
                    written.append(dest.label)
            except Exception as exc:
                failures.append(f"{dest.label}: {safe_message(exc)}")
                cause = cause or exc
        log.info(
            "token published" if written else "token not written",
            extra={
                "target": target.label,
                "reason": reason,
                "client_id": doc.client_id,
                "expires_at": published.expires_at,
                "written": written,
            },
        )
        if failures:
            return TargetOutcome(
                target.label, FAILED, reason, client_id=doc.client_id, expires_at=published.expires_at,
                written=tuple(written), error="; ".join(failures), warning=warning, cause=cause,
            )  # fmt: skip
        outcome = PUBLISHED if written else SKIPPED
        return TargetOutcome(
            target.label, outcome, reason if written else "raced", client_id=doc.client_id,
            expires_at=published.expires_at, written=tuple(written), warning=warning,
        )  # fmt: skip

    def _credential_document(self, target: PublishTarget) -> tuple[str, SecretDocument]:
        """The credential document and where it was read (source and version: the token cache's key)."""
        if target.credential_secret_id:
            store = self._secrets()
            found = store.get_version(target.credential_secret_id, stage=CURRENT)
            if found is None:
                raise TargetError(f"credential secret {target.credential_secret_id} has no AWSCURRENT value")
            return f"sm:{target.credential_secret_id}@{found.version_id}", parse_document(found.value)
        assert target.credential_vault_path
        entry = self._kv().read(target.credential_vault_path)
        if entry is None or not entry.data:
            raise TargetError(f"credential path {target.credential_vault_path} holds no secret")
        return f"kv:{target.credential_vault_path}@{entry.version}", document_from_kv(entry)

    def _read_destination(self, kind: Literal["sm", "kv"], ref: str, client_id: str, now: float) -> _Destination:
        dest = _Destination(kind, ref)
        raw: Any
        if kind == "sm":
            raw = self._secrets().get_value(ref, stage=CURRENT)
        else:
            entry = self._kv().read(ref)
            dest.kv_version = entry.version if entry else 0
            raw = dict(entry.data) if entry and entry.data else None
        unparseable = False
        if raw is not None:
            try:
                dest.current = PublishedToken.parse(raw)
            except PublishedTokenError:
                unparseable = True
        dest.reason = decide(dest.current, client_id, now, self.threshold, unparseable=unparseable)
        return dest

    def _write(self, dest: _Destination, token: PublishedToken) -> bool:
        if dest.kind == "sm":
            self._secrets().put_value(dest.ref, token.to_json())
            return True
        try:
            self._kv().write(dest.ref, token.as_dict(), custom_metadata=token.custom_metadata(), cas=dest.kv_version)
        except CasConflict:
            # Another publisher wrote since we read: its token is as new as ours.
            log.info("kv write lost a check-and-set race; keeping the other writer's token", extra={"path": dest.ref})
            return False
        return True

    def _secrets(self) -> SecretStore:
        if self.secrets is None:
            raise TargetError("no Secrets Manager store configured")
        return self.secrets

    def _kv(self) -> KVStore:
        if self.kv is None:
            raise TargetError("no Vault KV store configured")
        return self.kv

    def _client_for(self, doc: SecretDocument, worker: int) -> TokenClient:
        if self._token_client is not None:
            return self._token_client(doc)
        return self._clients(worker).for_url(doc.hosts.token_url, allow_insecure_http=doc.hosts.allow_insecure_http)

    def _clients(self, worker: int) -> TokenClients:
        """The worker's token clients: its own connections (reused across its targets with
        the same token host), and one attempt per request: a retry is the queue's, never a
        worker's sleep (see :meth:`run`)."""
        with self._lanes_lock:
            clients = self._lanes.get(worker)
            if clients is None:
                single = replace(self.http.retry, max_attempts=1)
                clients = self._lanes[worker] = TokenClients(self.http.lane(worker, retry=single), clock=self.clock)
            return clients

    # -- many targets

    def run(self, targets: Iterable[PublishTarget]) -> RunResult:
        """Publish every target, ``concurrency`` at a time; outcomes in the targets' order.
        A target waiting to retry its token request holds no worker (one worker: the
        calling thread, which also takes the other targets meanwhile)."""
        jobs = [_Job(t) for t in targets]
        began = time.perf_counter()
        if not jobs:
            return RunResult((), 0.0)
        policy = self.http.retry
        outcomes = run_bounded(
            jobs, self._step, workers=self.concurrency, clock=policy.clock, sleep=policy.sleep,
            thread_name_prefix="vgs-publish",
        )  # fmt: skip
        result = RunResult(tuple(outcomes), time.perf_counter() - began)
        log.info("publish run finished", extra={"counts": result.counts(), "seconds": round(result.seconds, 3)})
        return result


def _dest_refs(target: PublishTarget) -> Sequence[tuple[Literal["sm", "kv"], str]]:
    out: list[tuple[Literal["sm", "kv"], str]] = []
    if target.token_secret_id:
        out.append(("sm", target.token_secret_id))
    if target.vault_path:
        out.append(("kv", target.vault_path))
    return out


def _timed(outcome: TargetOutcome, seconds: float) -> TargetOutcome:
    return replace(outcome, seconds=seconds)


__all__ = [
    "DEFAULT_THRESHOLD_SECONDS",
    "FAILED",
    "PUBLISHED",
    "SKIPPED",
    "ConfigError",
    "PublishConfig",
    "PublishError",
    "PublishTarget",
    "Publisher",
    "RunResult",
    "TargetOutcome",
    "decide",
    "document_from_kv",
]
