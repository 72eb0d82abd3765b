"""The go-plugin launch contract: magic cookie, protocol version, socket and handshake line."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from vault_plugin.transport.tls import PluginCertificate

MAGIC_COOKIE_KEY = "VAULT_BACKEND_PLUGIN"
MAGIC_COOKIE_VALUE = "6669da05-b1c8-4f49-97d9-c8e5bed98e20"
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 5  # Vault/OpenBao backend protocol v5: gRPC with automatic mTLS


class HandshakeError(Exception):
    """The plugin cannot serve this host; the message says why (it goes to stderr)."""


@dataclass(frozen=True)
class LaunchConfig:
    host_cert_pem: str
    socket_dir: str | None
    connect_timeout: float


def check_environment(env: Mapping[str, str]) -> LaunchConfig:
    """Validate what the host passed. Raises :class:`HandshakeError` with a readable reason."""
    if env.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(
            "This binary is a Vault/OpenBao plugin and is not meant to be executed directly. "
            "Register it with `bao plugin register` (or `vault plugin register`) and enable it as a secrets engine."
        )
    offered = [v.strip() for v in env.get("PLUGIN_PROTOCOL_VERSIONS", "").split(",") if v.strip()]
    if str(APP_PROTOCOL_VERSION) not in offered:
        raise HandshakeError(
            f"host offers plugin protocol versions {offered or 'none'}; this plugin speaks only "
            f"version {APP_PROTOCOL_VERSION} (gRPC with automatic mTLS, Vault 1.12+ / OpenBao)"
        )
    host_cert = env.get("PLUGIN_CLIENT_CERT", "")
    if not host_cert.strip():
        raise HandshakeError(
            "PLUGIN_CLIENT_CERT is empty: the host did not enable automatic mTLS, which this plugin requires"
        )
    try:
        timeout = float(env.get("VGS_PLUGIN_CONNECT_TIMEOUT", "60"))
    except ValueError:
        timeout = 60.0
    return LaunchConfig(
        host_cert_pem=host_cert, socket_dir=env.get("PLUGIN_UNIX_SOCKET_DIR") or None, connect_timeout=timeout
    )


def socket_path(socket_dir: str | None) -> str:
    """A fresh Unix socket path in the host's socket dir, or in a private temp dir."""
    base = tempfile.mkdtemp(prefix="vgs-plugin-", dir=socket_dir)
    return os.path.join(base, "plugin.sock")


def handshake_line(path: str, cert: PluginCertificate) -> str:
    return f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{path}|grpc|{cert.handshake_b64}"
