# Sourced by the generate-*-protos.sh scripts: finds the two protoc plugins they run.
#
#   - protoc-gen-swift            (swift-protobuf 1.39.0, product `protoc-gen-swift`)
#   - protoc-gen-grpc-swift-2     (grpc-swift-protobuf 2.4.1, product `protoc-gen-grpc-swift-2`)
#
# To build them, make a throwaway package outside this repository that depends on
# swift-protobuf and grpc-swift-protobuf at those versions, then
#   swift build --product protoc-gen-swift && swift build --product protoc-gen-grpc-swift-2
# and point PLUGIN_DIR at its .build/debug (or put both on PATH).

find_plugin() {
    local name="$1"
    if [[ -n "${PLUGIN_DIR:-}" && -x "$PLUGIN_DIR/$name" ]]; then
        echo "$PLUGIN_DIR/$name"
    elif command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
    else
        echo "error: $name not found (set PLUGIN_DIR or put it on PATH)" >&2
        exit 1
    fi
}
swift_plugin="$(find_plugin protoc-gen-swift)"
grpc_plugin="$(find_plugin protoc-gen-grpc-swift-2)"
