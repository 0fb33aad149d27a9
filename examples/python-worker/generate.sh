#!/usr/bin/env bash
# Generates the Python stubs of saga.v1.WorkerService into the folder given (e.g. `gen`), with
# Debian's protoc (protobuf-compiler) and gRPC plugin (protobuf-compiler-grpc). Then run the
# worker with that folder on PYTHONPATH. The stubs are not committed: they belong to the protoc
# and grpcio versions installed here.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
proto="$here/../../proto"
plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
mkdir -p "$out"
# /usr/include holds the well-known types (google/protobuf/struct.proto, …) protoc ships with.
protoc -I "$proto" -I /usr/include \
  --python_out="$out" --grpc_out="$out" --plugin=protoc-gen-grpc="$plugin" \
  "$proto/saga/v1/worker.proto"
