#!/bin/sh
# Regenerate the Python stubs for the plugin protocol. Needs grpcio-tools and grpclib
# (grpclib ships the protoc-gen-grpclib_python plugin). Run from anywhere.
set -eu
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python}"
"$PY" -m grpc_tools.protoc -I . \
  --python_out=. --pyi_out=. --grpclib_python_out=. \
  vault_plugin/proto/backend.proto vault_plugin/proto/broker.proto vault_plugin/proto/version.proto
