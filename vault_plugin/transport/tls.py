"""Automatic mTLS as go-plugin does it, on Python's ``ssl`` (OpenSSL).

Why not grpcio: the host (Vault/OpenBao, Go) presents an ECDSA **P-521** client certificate.
grpcio's TLS is BoringSSL, which does not offer the ``ecdsa_secp521r1_sha512`` signature
scheme; under TLS 1.3 the host then sends no certificate and the mount fails with
``PEER_DID_NOT_RETURN_A_CERTIFICATE``. OpenSSL 3 (Python's ``ssl``) accepts P-521, so the
plugin speaks gRPC through grpclib (pure-Python HTTP/2 on asyncio) whose TLS *is* ``ssl``.
That is one stack and one event loop instead of grpcio behind an ``ssl`` bridge; the
measured cost is a few milliseconds per request (see bench/vault_plugin_bench.py).

Our own certificate mirrors go-plugin's ``generateCert``: ECDSA, self-signed, CA, CN and DNS
SAN ``localhost``, client+server auth. We use P-256 rather than go-plugin's P-521: the host
(Go crypto/tls) accepts both, and P-256 handshakes are cheaper.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST_NAME = "localhost"


@dataclass(frozen=True)
class PluginCertificate:
    """The plugin's ephemeral key pair (PEM) and certificate (DER for the handshake line)."""

    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes

    @property
    def handshake_b64(self) -> str:
        """The DER certificate in base64 *without* '=' padding (go-plugin decodes RawStd)."""
        return base64.b64encode(self.cert_der).decode("ascii").rstrip("=")


def generate_certificate() -> PluginCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vgs-rotation"),
            x509.NameAttribute(NameOID.COMMON_NAME, HOST_NAME),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(127) | 1)
        .not_valid_before(now - dt.timedelta(seconds=30))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return PluginCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        cert_der=cert.public_bytes(serialization.Encoding.DER),
    )


def _load_chain(ctx: ssl.SSLContext, cert: PluginCertificate) -> None:
    # ssl only loads key pairs from files: write them to a private directory and remove it at once.
    with tempfile.TemporaryDirectory(prefix="vgs-plugin-tls-") as tmp:
        os.chmod(tmp, 0o700)
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cert.key_pem)
        with open(cert_path, "wb") as f:
            f.write(cert.cert_pem)
        ctx.load_cert_chain(cert_path, key_path)


def check_host_certificate(host_cert_pem: str) -> None:
    """Raise ValueError unless ``PLUGIN_CLIENT_CERT`` holds a parsable PEM certificate."""
    try:
        x509.load_pem_x509_certificate(host_cert_pem.encode())
    except Exception as exc:
        raise ValueError(f"PLUGIN_CLIENT_CERT is not a PEM certificate: {type(exc).__name__}") from None


def server_context(cert: PluginCertificate, host_cert_pem: str) -> ssl.SSLContext:
    """TLS for the plugin's gRPC server: require a client certificate signed by the host's."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=host_cert_pem)
    _load_chain(ctx, cert)
    ctx.set_alpn_protocols(["h2"])
    return ctx


def client_context(cert: PluginCertificate, host_cert_pem: str) -> ssl.SSLContext:
    """TLS for dialling the host's broker listener: same key pair, trust only the host's cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=host_cert_pem)
    _load_chain(ctx, cert)
    ctx.set_alpn_protocols(["h2"])
    return ctx
