#!/usr/bin/env bash
# Regenerates Sources/Etcd/Generated from etcd 3.4's own .proto files.
#
# CI never runs this: the generated Swift is committed. Run it only when moving to another etcd
# API version or another swift-protobuf / grpc-swift-protobuf release.
#
# Needs:
#   - protoc                      (Debian: protobuf-compiler)
#   - etcd's protos               (Debian: golang-etcd-server-dev, or ETCD_PROTO_ROOT=<etcd source tree>)
#   - protoc-gen-swift and protoc-gen-grpc-swift-2 (how to build them: scripts/protoc-plugins.sh)
#
# etcd's protos carry gogoproto and google.api (grpc-gateway) annotations that only matter to Go;
# they are stripped here so that protoc needs no extra include files. rpc.proto is then pruned to
# the RPCs in client_rpcs and the messages they reach (scripts/prune-etcd-proto.py): the admin
# APIs would add code and conformance records the client never uses.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
proto_root="${ETCD_PROTO_ROOT:-/usr/share/gocode/src/go.etcd.io/etcd}"
out_dir="$repo_root/Sources/Etcd/Generated"
# shellcheck source=protoc-plugins.sh
source "$repo_root/scripts/protoc-plugins.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Keep etcd's import paths ("etcd/mvcc/mvccpb/kv.proto", ...) valid inside the temp tree.
for rel in etcdserver/etcdserverpb/rpc.proto mvcc/mvccpb/kv.proto auth/authpb/auth.proto; do
    src="$proto_root/$rel"
    [[ -f "$src" ]] || { echo "error: missing $src" >&2; exit 1; }
    mkdir -p "$work/etcd/$(dirname "$rel")"
    sed -e '/^import "gogoproto\/gogo.proto";/d' \
        -e '/^import "google\/api\/annotations.proto";/d' \
        -e '/^option (gogoproto\.[a-z_]*) = [a-z]*;/d' \
        -e '/option (google\.api\.http) = {/,/};/d' \
        -e 's/ \[(gogoproto\.[^]]*\]//g' \
        "$src" > "$work/etcd/$rel"
done

# The RPCs the Etcd module calls; add one here before calling it.
client_rpcs=(
    KV.Range KV.Put KV.DeleteRange KV.Txn
    Watch.Watch
    Lease.LeaseGrant Lease.LeaseRevoke Lease.LeaseKeepAlive Lease.LeaseTimeToLive
    Maintenance.Status
    Auth.Authenticate
)
python3 "$repo_root/scripts/prune-etcd-proto.py" "$work/etcd/etcdserver/etcdserverpb/rpc.proto" "${client_rpcs[@]}"

mkdir -p "$out_dir"
rm -f "$out_dir"/*.swift

# rpc.proto and the files it still imports.
protos=(etcd/etcdserver/etcdserverpb/rpc.proto)
for rel in mvcc/mvccpb/kv.proto auth/authpb/auth.proto; do
    if grep -q "^import \"etcd/$rel\";" "$work/etcd/etcdserver/etcdserverpb/rpc.proto"; then
        protos+=("etcd/$rel")
    fi
done

protoc --proto_path="$work" \
    --plugin=protoc-gen-swift="$swift_plugin" \
    --swift_out="$out_dir" \
    --swift_opt=Visibility=Internal,FileNaming=DropPath \
    "${protos[@]}"

protoc --proto_path="$work" \
    --plugin=protoc-gen-grpc-swift-2="$grpc_plugin" \
    --grpc-swift-2_out="$out_dir" \
    --grpc-swift-2_opt=Visibility=Internal,Client=true,Server=false,FileNaming=DropPath \
    etcd/etcdserver/etcdserverpb/rpc.proto

# Files without services get an empty .grpc.swift from some plugin versions; drop those.
for f in "$out_dir"/*.grpc.swift; do
    grep -q 'struct\|enum\|extension' "$f" || rm -f "$f"
done

echo "generated into $out_dir:"
ls -1 "$out_dir"
