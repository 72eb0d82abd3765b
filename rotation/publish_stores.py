"""Wire the store-agnostic publisher to the real stores: boto3 for Secrets Manager, hvac
for Vault/OpenBao KV v2. Both are imported only when the configuration uses them, so a
Vault-only publisher never imports boto3 and vice versa."""

from __future__ import annotations

import time
from collections.abc import Callable

from rotation.publisher import PublishConfig, Publisher
from rotation.stores import KVStore, SecretStore
from rotation.vgs import TokenCache, VGSHttp


def build_publisher(
    config: PublishConfig,
    *,
    http: VGSHttp | None = None,
    secrets: SecretStore | None = None,
    kv: KVStore | None = None,
    clock: Callable[[], float] = time.time,
    tokens: TokenCache | None = None,
) -> Publisher:
    """A publisher for ``config``; pass ``secrets``/``kv``/``http`` to override the defaults,
    ``tokens`` to keep minted tokens beyond this publisher (a warm Lambda)."""
    if secrets is None and config.uses_aws:
        from rotation.aws_store import AwsSecretStore, secretsmanager_client

        secrets = AwsSecretStore(secretsmanager_client(pool=config.concurrency))
    if kv is None and config.uses_vault:
        from rotation.vault_store import VaultKV

        kv = VaultKV(url=config.vault_addr, namespace=config.vault_namespace)
    return Publisher(
        secrets=secrets,
        kv=kv,
        http=http,
        threshold=config.refresh_threshold_seconds,
        concurrency=config.concurrency,
        clock=clock,
        tokens=tokens,
    )
