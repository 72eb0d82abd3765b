"""The plugin process without a host: launch contract, handshake line, mTLS, shutdown; the
path framework's field validation."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from google.protobuf.empty_pb2 import Empty
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from tests.vault_fixtures import HostIdentity
from vault_plugin.framework import Field, FieldData, FieldType, LogicalError, parse_duration
from vault_plugin.proto import backend_grpc, backend_pb2, broker_grpc, broker_pb2

ROOT = Path(__file__).resolve().parents[1]


def launch(env: dict[str, str]) -> subprocess.Popen[str]:
    env = dict(env, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "vault_plugin"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_refuses_to_run_without_the_magic_cookie():
    env = {k: v for k, v in os.environ.items() if k != "VAULT_BACKEND_PLUGIN"}
    proc = launch(env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert out == ""
    assert "not meant to be executed directly" in err


def test_declines_protocol_versions_other_than_5():
    host = HostIdentity.generate()
    proc = launch(host.plugin_env(PLUGIN_PROTOCOL_VERSIONS="3,4"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert out == ""
    assert "speaks only version 5" in err


def test_exits_when_no_host_connects():
    host = HostIdentity.generate()
    proc = launch(host.plugin_env(VGS_PLUGIN_CONNECT_TIMEOUT="1"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert out.startswith("1|5|unix|")
    assert "no connection from the host" in err


@pytest.fixture
def plugin():
    host = HostIdentity.generate()
    sock_dir = tempfile.mkdtemp(prefix="vgs-test-sock-")
    proc = launch(host.plugin_env(PLUGIN_UNIX_SOCKET_DIR=sock_dir))
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    yield host, line, proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)
    shutil.rmtree(sock_dir, ignore_errors=True)


def host_context(host: HostIdentity, *, with_cert: bool = True, server_cert_der: bytes | None = None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    if server_cert_der is not None:
        ctx.load_verify_locations(cadata=server_cert_der)
    if with_cert:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "c.pem").write_text(host.cert_pem)
            (Path(tmp) / "k.pem").write_text(host.key_pem)
            ctx.load_cert_chain(str(Path(tmp) / "c.pem"), str(Path(tmp) / "k.pem"))
    ctx.set_alpn_protocols(["h2"])
    return ctx


def parse_line(line: str):
    core, app, network, address, proto, cert_b64 = line.split("|")
    return core, app, network, address, proto, cert_b64


def test_handshake_line_and_certificate(plugin):
    _host, line, _proc = plugin
    core, app, network, address, proto, cert_b64 = parse_line(line)
    assert (core, app, network, proto) == ("1", "5", "unix", "grpc")
    assert Path(address).exists()
    assert not cert_b64.endswith("="), "go-plugin decodes unpadded base64"
    der = base64.b64decode(cert_b64 + "=" * (-len(cert_b64) % 4))
    cert = x509.load_der_x509_certificate(der)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]


async def _call_health(address: str, ctx: ssl.SSLContext) -> HealthCheckResponse:
    channel = Channel(path=address, ssl=ctx, config=Configuration(ssl_target_name_override="localhost"))
    try:
        return await asyncio.wait_for(HealthStub(channel).Check(HealthCheckRequest(service="plugin")), 10)
    finally:
        channel.close()


def _der(line: str) -> bytes:
    b64 = parse_line(line)[5]
    return base64.b64decode(b64 + "=" * (-len(b64) % 4))


def test_p521_host_certificate_is_accepted_and_health_serving(plugin):
    host, line, _proc = plugin
    reply = asyncio.run(_call_health(parse_line(line)[3], host_context(host, server_cert_der=_der(line))))
    assert reply.status == HealthCheckResponse.SERVING


def test_client_without_certificate_is_refused(plugin):
    host, line, _proc = plugin
    with pytest.raises(Exception):  # noqa: B017 - TLS alert or closed stream, depending on timing
        asyncio.run(_call_health(parse_line(line)[3], host_context(host, with_cert=False, server_cert_der=_der(line))))


def test_client_with_a_foreign_certificate_is_refused(plugin):
    _host, line, _proc = plugin
    stranger = HostIdentity.generate()
    with pytest.raises(Exception):  # noqa: B017
        asyncio.run(_call_health(parse_line(line)[3], host_context(stranger, server_cert_der=_der(line))))


def test_backend_type_special_paths_and_shutdown(plugin):
    host, line, proc = plugin

    async def go():
        channel = Channel(
            path=parse_line(line)[3],
            ssl=host_context(host, server_cert_der=_der(line)),
            config=Configuration(ssl_target_name_override="localhost"),
        )
        try:
            backend = backend_grpc.BackendStub(channel)
            typ = await backend.Type(backend_pb2.Empty())
            special = await backend.SpecialPaths(backend_pb2.Empty())
            # Before Setup, requests answer a clear error rather than crash.
            reply = await backend.HandleRequest(
                backend_pb2.HandleRequestArgs(request=backend_pb2.Request(operation="read", path="config"))
            )
            # OpenBao 2.7's resolve-path (before every request) answers "unsupported path" (6)
            resolve = await backend.HandleRequest(
                backend_pb2.HandleRequestArgs(request=backend_pb2.Request(operation="resolve-path", path="token/x"))
            )
            assert resolve.err.err_type == 6
            # the host's InvalidateKey (replication, standby nodes) is answered, even before Setup
            await backend.InvalidateKey(backend_pb2.InvalidateKeyArgs(key="token-cache/x"))
            # Unknown services answer UNIMPLEMENTED (with a content-type grpc-go accepts).
            with pytest.raises(GRPCError) as info:
                async with channel.request(
                    "/pluginutil.PluginMultiplexing/MultiplexingSupport", Cardinality.UNARY_UNARY, Empty, Empty
                ) as stream:
                    await stream.send_message(Empty(), end=True)
                    await stream.recv_message()
            assert info.value.status is Status.UNIMPLEMENTED
            await broker_grpc.GRPCControllerStub(channel).Shutdown(broker_pb2.Empty())
            return typ, special, reply
        finally:
            channel.close()

    typ, special, reply = asyncio.run(go())
    assert typ.type == 1
    assert "config" in special.paths.seal_wrap_storage
    assert "static-roles/" in special.paths.seal_wrap_storage
    assert reply.err.err_msg
    assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize(
    ("raw", "seconds"), [(90, 90), ("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800)]
)
def test_durations(raw, seconds):
    assert parse_duration(raw) == seconds


def test_field_errors_name_the_field():
    schema = {
        "ttl": Field(FieldType.DURATION, "d"),
        "n": Field(FieldType.INT, "n", minimum=60),
        "flag": Field(FieldType.BOOL, "b"),
    }
    with pytest.raises(LogicalError, match="'ttl'"):
        FieldData(schema, {"ttl": "soon"})
    with pytest.raises(LogicalError, match="'n': must be at least 60"):
        FieldData(schema, {"n": 5})
    with pytest.raises(LogicalError, match=r"unknown field.*bogus"):
        FieldData(schema, {"bogus": 1})
    with pytest.raises(LogicalError, match="'flag'"):
        FieldData(schema, {"flag": "maybe"})
    assert FieldData(schema, {"flag": "true", "ttl": "1m"}).get("ttl") == 60


def test_exits_when_the_parent_dies():
    host = HostIdentity.generate()
    env = dict(host.plugin_env(), PYTHONPATH=str(ROOT), PY=sys.executable)
    # A middle process starts the plugin, waits for its handshake line (as a host would), prints
    # the plugin's pid and exits without reaping it: the plugin is orphaned.
    middle = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'vault_plugin'], stdout=subprocess.PIPE,"
        " stderr=subprocess.DEVNULL)\n"
        "p.stdout.readline()\n"
        "print(p.pid, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", middle], env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    pid = int(out.strip())

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie waiting for its (new) parent to reap it has exited too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] == "Z"

    from tests.vault_fixtures import wait_until

    wait_until(gone, timeout=30, what="plugin exit after parent death")


def test_build_writes_an_executable_and_prints_its_sha256_last(tmp_path):
    import hashlib

    def build(out: Path) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "vault_plugin", "build", str(out)],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return proc.stdout.strip().splitlines()[-1]

    digest = build(tmp_path / "a")
    plugin = tmp_path / "a" / "vgs-secrets-plugin"
    assert hashlib.sha256(plugin.read_bytes()).hexdigest() == digest
    assert os.access(plugin, os.X_OK)
    assert plugin.read_bytes().startswith(f"#!{sys.executable}\n".encode())
    assert build(tmp_path / "b") == digest, "the build is reproducible"
    # the executable refuses to run outside a host, with the clear message
    proc = subprocess.run([str(plugin)], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and "not meant to be executed directly" in proc.stderr


def test_sigint_is_ignored_and_sigterm_exits_cleanly(plugin):
    import signal

    _host, line, proc = plugin
    sock = Path(parse_line(line)[3])
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not sock.exists(), "the socket is removed on a clean exit"


def test_corked_transport_sends_one_write_per_loop_turn():
    """A reply's headers, data and trailers leave as one write (one TLS record, one syscall)."""
    from vault_plugin.transport.corking import CorkedProtocol

    class FakeTransport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[bytes] = []
            self.closed = False

        def write(self, data):
            self.writes.append(bytes(data))

        def is_closing(self):
            return self.closed

        def close(self):
            self.closed = True

    class Inner(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

    async def go():
        real, inner, connected = FakeTransport(), Inner(), []
        proto = CorkedProtocol(inner, on_connection=lambda: connected.append(True))
        proto.connection_made(real)
        assert connected == [True]
        for part in (b"headers", b"data", b"trailers"):
            inner.transport.write(part)
        assert real.writes == [], "nothing leaves before the end of the turn"
        await asyncio.sleep(0)
        assert real.writes == [b"headersdatatrailers"]
        inner.transport.write(b"last")
        inner.transport.close()
        assert real.writes[-1] == b"last" and real.closed, "close flushes first"

    asyncio.run(go())
