#!/bin/sh
# Regenerate the Python stubs for the plugin protocol. Needs grpcio-tools and grpclib
# (grpclib ships the protoc-gen-grpclib_python plugin). Run from anywhere.
set -eu
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python}"
"$PY" -m grpc_tools.protoc -I . \
  --python_out=. --pyi_out=. --grpclib_python_out=. \
  vault_plugin/proto/backend.proto vault_plugin/proto/broker.proto vault_plugin/proto/version.proto
# Generated code is not ours to type-check (protobuf ships no stubs): mark it for mypy.
for f in vault_plugin/proto/*_pb2.py vault_plugin/proto/*_pb2.pyi vault_plugin/proto/*_grpc.py; do
  { echo "# mypy: ignore-errors"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
done
