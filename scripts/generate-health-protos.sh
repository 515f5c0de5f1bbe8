#!/usr/bin/env bash
# Regenerates Sources/GRPCHealthProto/Generated from Sources/GRPCHealthProto/health.proto, the
# standard gRPC health-checking protocol that grpc:// and grpcs:// checks speak.
#
# CI never runs this: the generated Swift is committed. Run it only after changing health.proto or
# moving to another swift-protobuf / grpc-swift-protobuf release.
#
# Needs:
#   - protoc                      (Debian: protobuf-compiler)
#   - protoc-gen-swift and protoc-gen-grpc-swift-2 (how to build them: scripts/protoc-plugins.sh)
#
# Public types, client and server stubs: the checks use the client, the tests serve Health.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto_dir="$repo_root/Sources/GRPCHealthProto"
out_dir="$proto_dir/Generated"
# shellcheck source=protoc-plugins.sh
source "$repo_root/scripts/protoc-plugins.sh"

mkdir -p "$out_dir"
rm -f "$out_dir"/*.swift

protoc --proto_path="$proto_dir" \
    --plugin=protoc-gen-swift="$swift_plugin" \
    --swift_out="$out_dir" \
    --swift_opt=Visibility=Public \
    --plugin=protoc-gen-grpc-swift-2="$grpc_plugin" \
    --grpc-swift-2_out="$out_dir" \
    --grpc-swift-2_opt=Visibility=Public,Client=true,Server=true \
    health.proto

echo "generated into $out_dir:"
ls -1 "$out_dir"
