"""The path router and the protobuf translation, without a host."""

from __future__ import annotations

import asyncio
import json

import pytest

from vault_plugin.framework import (
    ErrorKind,
    Field,
    FieldType,
    LeaseInfo,
    LeaseSecret,
    LogicalError,
    Operation,
    Path,
    Request,
    Response,
    Router,
    SecretType,
)
from vault_plugin.proto import backend_pb2
from vault_plugin.storage import CachingStorage, MemoryStorage
from vault_plugin.transport.backend_service import error_to_proto, request_from_proto, response_to_proto


def make_router(calls: list[str]) -> Router:
    async def read(req, d):
        return Response(data={"name": d.get("name"), "n": d.get("n")})

    async def revoke(req):
        calls.append(f"revoke {req.secret.internal_data['id']}")
        return None

    async def periodic():
        calls.append("periodic")

    async def exists(req, d):
        return d.get("name") == "there"

    return Router(
        help_text="root help",
        paths=[
            Path(
                pattern=r"things/(?P<name>\w+)",
                synopsis="A thing.",
                description="Things are things.",
                fields={
                    "name": Field(FieldType.NAME, "name", required=True),
                    "n": Field(FieldType.INT, "n", default=3),
                },
                operations={Operation.READ: read, Operation.UPDATE: read},
                existence=exists,
            )
        ],
        secrets=[SecretType("thing", revoke=revoke)],
        periodic=periodic,
    )


def run(coro):
    return asyncio.run(coro)


def test_routing_fields_help_and_errors():
    calls: list[str] = []
    r = make_router(calls)
    assert run(r.handle(Request(Operation.READ, "things/a", data={"n": "7"}))).data == {"name": "a", "n": 7}
    assert run(r.handle(Request(Operation.CREATE, "things/a"))).data["n"] == 3, "create falls back to update"
    with pytest.raises(LogicalError) as info:
        run(r.handle(Request(Operation.DELETE, "things/a")))
    assert info.value.kind is ErrorKind.UNSUPPORTED_OPERATION
    with pytest.raises(LogicalError, match="unsupported path") as info:
        run(r.handle(Request(Operation.READ, "nothing")))
    assert info.value.kind is ErrorKind.BAD_REQUEST
    assert "Things are things." in run(r.handle(Request(Operation.HELP, "things/a"))).data["help"]
    assert run(r.handle(Request(Operation.HELP, ""))).data["help"] == "root help"
    assert run(r.exists(Request(Operation.UPDATE, "things/there"))) == (True, True)
    assert run(r.exists(Request(Operation.UPDATE, "things/new"))) == (True, False)
    assert run(r.exists(Request(Operation.UPDATE, "nothing"))) == (False, False)


def test_lease_callbacks_and_rollback_dispatch():
    calls: list[str] = []
    r = make_router(calls)
    run(r.handle(Request(Operation.REVOKE, "", secret=LeaseInfo({"secret_type": "thing", "id": "x1"}))))
    run(r.handle(Request(Operation.ROLLBACK, "")))
    assert calls == ["revoke x1", "periodic"]
    with pytest.raises(LogicalError, match="not renewable"):
        run(r.handle(Request(Operation.RENEW, "", secret=LeaseInfo({"secret_type": "thing"}))))


def test_protobuf_translation():
    req = backend_pb2.Request(operation="renew", path="creds/x", data=json.dumps({"a": 1}))
    req.secret.internal_data = json.dumps({"secret_type": "t", "client_id": "c"})
    req.secret.lease_options.increment = 90 * 10**9
    req.secret.lease_options.issue_time.FromSeconds(1_700_000_000)
    parsed = request_from_proto(req)
    assert parsed.operation is Operation.RENEW and parsed.data == {"a": 1}
    assert parsed.secret is not None and parsed.secret.increment == 90 and parsed.secret.issue_time == 1_700_000_000
    with pytest.raises(LogicalError) as info:
        request_from_proto(backend_pb2.Request(operation="resolve-path", path="x"))
    assert error_to_proto(info.value).err_type == 6, "unsupported path for operations we do not know"

    out = response_to_proto(Response(data={"k": "v"}, secret=LeaseSecret("t", {"id": 1}, ttl=60, renewable=True)))
    assert json.loads(out.data) == {"k": "v"}
    assert out.secret.lease_options.TTL == 60 * 10**9 and out.secret.lease_options.renewable
    assert out.secret.lease_options.HasField("issue_time"), "the host rejects a secret without issue_time"
    assert json.loads(out.secret.internal_data) == {"id": 1, "secret_type": "t"}

    coded = error_to_proto(LogicalError("field 'x': bad"))
    assert (coded.err_type, coded.err_code, coded.err_msg) == (3, 400, "field 'x': bad")
    hidden = error_to_proto(RuntimeError("secret-value-inside"))
    assert "secret-value-inside" not in hidden.err_msg


def test_caching_storage_is_write_through():
    inner = MemoryStorage()
    cache = CachingStorage(inner, ("roles/",))

    async def go():
        await cache.put("roles/a", {"x": 1})
        inner.data["roles/a"] = json.dumps({"x": 2})  # changed behind the cache (e.g. replication)
        assert (await cache.get("roles/a")) == {"x": 1}
        cache.invalidate("roles/a")
        assert (await cache.get("roles/a")) == {"x": 2}
        got = await cache.get("roles/a")
        got["x"] = 99  # callers may mutate what they get
        assert (await cache.get("roles/a")) == {"x": 2}
        await cache.delete("roles/a")
        assert await cache.get("roles/a") is None
        assert await cache.list("roles/") == []

    run(go())


# -- structure ----------------------------------------------------------------------------------


def _plugin_imports() -> dict[str, set[str]]:
    """Every vault_plugin module and the vault_plugin modules it imports (also inside functions)."""
    import ast
    from pathlib import Path as FsPath

    root = FsPath(__file__).resolve().parents[1]
    graph: dict[str, set[str]] = {}
    for path in sorted((root / "vault_plugin").rglob("*.py")):
        if path.parent.name == "proto":
            continue
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
        graph[module] = {d for d in deps if d.startswith("vault_plugin") and d != module}
    return {m: {d for d in deps if d in graph} for m, deps in graph.items()}


def test_the_backend_does_not_import_its_paths_and_there_is_no_import_circle():
    graph = _plugin_imports()
    assert "vault_plugin.paths.token" in graph and "vault_plugin.backend" in graph, "the scan sees the modules"
    assert not {d for d in graph["vault_plugin.backend"] if d.startswith("vault_plugin.paths")}
    for module, deps in graph.items():
        if module.startswith("vault_plugin.paths"):
            assert not deps & {"vault_plugin.backend", "vault_plugin.engine"}, f"{module} imports the concrete backend"
    # no cycle anywhere in vault_plugin (depth-first search with colours)
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if dep.startswith(module + "."):
                continue  # a package importing its own submodules is not a circle
            if state.get(dep) == 1:
                raise AssertionError("import circle: " + " -> ".join([*trail, module, dep]))
            if dep not in state:
                visit(dep, [*trail, module])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [])
