"""An in-memory ``SecretStore`` with Secrets Manager's version and stage rules.

Built to AWS's contract (docs/AWS-ROTATION.md), not to moto's quirks, so the bench can run
thousands of schedules without an HTTP server; ``tests/test_faults_memstore.py`` runs the
same schedules here and against moto's server and compares the end states.

Rules reproduced:
- a version may exist with stages but no value (RotateSecret's first act); reading it
  answers ResourceNotFoundException (here: ``None``);
- ``VersionIdsToStages`` lists only versions that carry a stage (DescribeSecret);
- reading by ``VersionId`` and ``VersionStage`` together needs both to match;
- ``PutSecretValue`` with an existing ``ClientRequestToken``: same value is a no-op,
  another value is ResourceExistsException, and so is any value for a version without a
  value that no longer carries AWSPENDING (moto's rule); its stages move onto the version;
- ``UpdateSecretVersionStage``: moving a stage attached elsewhere needs the matching
  ``RemoveFromVersionId``; moving AWSCURRENT puts AWSPREVIOUS on the version it left;
- ``PutSecretValue`` without stages makes a new AWSCURRENT (and AWSPREVIOUS);
- ``RotateSecret`` is refused (InvalidRequestException) while AWSPENDING sits on a version
  other than AWSCURRENT: AWS assumes a previous rotation is still in progress. (moto has
  this test inverted: it refuses when AWSPENDING is *on* AWSCURRENT, AWS's completed state;
  ``tests/rotation_harness.start_rotation`` applies AWS's rule in front of moto's backend);
- ``UpdateSecretVersionStage`` with a ``RemoveFromVersionId`` that does not hold the label
  is refused (InvalidParameterException), as moto and AWS do;
- at most ``MAX_VERSIONS`` (100) versions: past that, the oldest versions without a label
  are pruned (AWS deprecates unlabelled versions beyond its limit);
- every ``PutSecretValue`` records the ``RotationToken`` it was passed (``put_log``), so
  the schedules can check that a rotation passes on the one its event carried.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field

from rotation.stores import CURRENT, PENDING, PREVIOUS, SecretDescription, SecretVersion, StoreError

REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_VERSIONS = 100


@dataclass(frozen=True)
class PutRecord:
    """One PutSecretValue as the service saw it (a secret in ``rotation_token``: never print it)."""

    arn: str
    version_id: str | None
    rotation_token: str | None = field(repr=False)


@dataclass
class _Version:
    value: str | None
    stages: list[str] = field(default_factory=list)


@dataclass
class _Secret:
    arn: str
    name: str
    rotation_enabled: bool = False
    versions: dict[str, _Version] = field(default_factory=dict)  # insertion order = creation order


def _err(call: str, code: str) -> StoreError:
    return StoreError(f"Secrets Manager {call} failed ({code})", code=code, retryable=False)


class MemorySecretStore:
    """Secrets by name or ARN. ``writes`` counts successful writes (for zero-write checks)."""

    def __init__(self) -> None:
        self.secrets: dict[str, _Secret] = {}
        self.calls = 0
        self.writes = 0
        self.put_log: list[PutRecord] = []

    # -- set-up (what the console, CreateSecret and RotateSecret do) -------------------

    def create_secret(self, name: str, value: str, *, rotation_enabled: bool = False) -> str:
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{uuid.uuid4().hex[:6]}"
        secret = _Secret(arn, name, rotation_enabled)
        secret.versions[str(uuid.uuid4())] = _Version(value, [CURRENT])
        self.secrets[arn] = secret
        return arn

    def enable_rotation(self, secret_id: str, enabled: bool = True) -> None:
        self._secret("enable_rotation", secret_id).rotation_enabled = enabled

    def start_rotation(self, secret_id: str, token: str) -> str:
        """RotateSecret's first act: a new version labelled AWSPENDING, no value yet.

        Refused (InvalidRequestException) while AWSPENDING is on a version other than
        AWSCURRENT: a previous rotation is assumed to be in progress."""
        secret = self._secret("rotate_secret", secret_id)
        holder = next((vid for vid, v in secret.versions.items() if PENDING in v.stages), None)
        if holder is not None and CURRENT not in secret.versions[holder].stages:
            if holder == token:
                return token  # the same request again: RotateSecret is idempotent on its token
            raise _err("rotate_secret", "InvalidRequestException")
        if token in secret.versions:
            raise _err("rotate_secret", "ResourceExistsException")
        for v in secret.versions.values():
            if PENDING in v.stages:
                v.stages.remove(PENDING)
        secret.versions[token] = _Version(None, [PENDING])
        self._prune(secret)
        return token

    @staticmethod
    def _prune(secret: _Secret) -> None:
        """AWS keeps at most ~100 versions: the oldest unlabelled ones go first."""
        excess = len(secret.versions) - MAX_VERSIONS
        for vid in [vid for vid, v in secret.versions.items() if not v.stages][: max(0, excess)]:
            del secret.versions[vid]

    def snapshot(self, secret_id: str) -> list[tuple[str, tuple[str, ...], str | None]]:
        secret = self._secret("snapshot", secret_id)
        return [(vid, tuple(sorted(v.stages)), v.value) for vid, v in secret.versions.items()]

    def values(self, secret_id: str) -> dict[str, str]:
        """Every version's value (labelled or not): for orphan and leak checks."""
        secret = self._secret("values", secret_id)
        return {vid: v.value for vid, v in secret.versions.items() if v.value is not None}

    def clone(self) -> MemorySecretStore:
        return copy.deepcopy(self)

    # -- the SecretStore protocol --------------------------------------------------------

    def _secret(self, call: str, secret_id: str) -> _Secret:
        found = self.secrets.get(secret_id) or next((s for s in self.secrets.values() if s.name == secret_id), None)
        if found is None:
            raise _err(call, "ResourceNotFoundException")
        return found

    def describe(self, secret_id: str) -> SecretDescription:
        self.calls += 1
        s = self._secret("describe_secret", secret_id)
        versions = {vid: tuple(v.stages) for vid, v in s.versions.items() if v.stages}
        return SecretDescription(arn=s.arn, name=s.name, rotation_enabled=s.rotation_enabled, versions=versions)

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        found = self.get_version(secret_id, version_id=version_id, stage=stage)
        return None if found is None else found.value

    def get_version(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> SecretVersion | None:
        self.calls += 1
        if secret_id not in self.secrets and not any(x.name == secret_id for x in self.secrets.values()):
            return None  # ResourceNotFoundException, which AwsSecretStore answers with None
        s = self._secret("get_secret_value", secret_id)
        if version_id is None:
            wanted = stage or CURRENT
            version_id = next((vid for vid, v in s.versions.items() if wanted in v.stages), None)
            if version_id is None:
                return None
        version = s.versions.get(version_id)
        if version is None or version.value is None or (stage is not None and stage not in version.stages):
            return None
        return SecretVersion(version_id, version.value)

    def put_pending(self, secret_id: str, version_id: str, value: str, *, rotation_token: str | None = None) -> None:
        self.calls += 1
        s = self._secret("put_secret_value", secret_id)
        self.put_log.append(PutRecord(s.arn, version_id, rotation_token))
        existing = s.versions.get(version_id)
        if existing is not None and existing.value == value:
            return
        if existing is not None and (existing.value is not None or PENDING not in existing.stages):
            # a version's value never changes; one that lost AWSPENDING (another rotation
            # took the label) cannot be written either
            raise _err("put_secret_value", "ResourceExistsException")
        for v in s.versions.values():
            if PENDING in v.stages:
                v.stages.remove(PENDING)
        if existing is None:
            s.versions[version_id] = _Version(value, [PENDING])
            self._prune(s)
        else:
            existing.value = value
            existing.stages.append(PENDING)
        self.writes += 1

    def move_stage(self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        self.calls += 1
        call = "update_secret_version_stage"
        s = self._secret(call, secret_id)
        holder = next((vid for vid, v in s.versions.items() if stage in v.stages), None)
        if to_version is not None and to_version not in s.versions:
            raise _err(call, "ResourceNotFoundException")
        if from_version is not None and from_version not in s.versions:
            raise _err(call, "ResourceNotFoundException")
        if to_version is None and from_version is None:
            raise _err(call, "InvalidParameterException")
        if from_version is not None and stage not in s.versions[from_version].stages:
            # "Version stage X not found in version Y": RemoveFromVersionId must hold the label
            raise _err(call, "InvalidParameterException")
        if holder is not None and holder != to_version and holder != from_version:
            # AWS: the stage is attached to another version; RemoveFromVersionId must name it
            raise _err(call, "InvalidParameterException")
        if holder is not None and holder == to_version:
            return  # already there: AWS accepts it as a no-op
        if from_version is not None and stage in s.versions[from_version].stages:
            s.versions[from_version].stages.remove(stage)
        if to_version is not None:
            s.versions[to_version].stages.append(stage)
            if stage == CURRENT and from_version is not None:
                for v in s.versions.values():
                    if PREVIOUS in v.stages:
                        v.stages.remove(PREVIOUS)
                s.versions[from_version].stages.append(PREVIOUS)
        self.writes += 1

    def put_value(self, secret_id: str, value: str) -> None:
        self.calls += 1
        s = self._secret("put_secret_value", secret_id)
        self.put_log.append(PutRecord(s.arn, None, None))
        old = next((vid for vid, v in s.versions.items() if CURRENT in v.stages), None)
        for v in s.versions.values():
            if PREVIOUS in v.stages:
                v.stages.remove(PREVIOUS)
        if old is not None:
            s.versions[old].stages.remove(CURRENT)
            s.versions[old].stages.append(PREVIOUS)
        s.versions[str(uuid.uuid4())] = _Version(value, [CURRENT])
        self._prune(s)
        self.writes += 1
