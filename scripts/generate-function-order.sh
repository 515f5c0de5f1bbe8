#!/usr/bin/env bash
# Regenerates packaging/function-order.txt, the order `./dev package` (and bench, image) links the
# release binary's functions in: what the commands run first and together (scripts/function-order.py
# says how it is found and why).
#
# CI never runs this: the list is committed. Run it after changes that move a command's hot code
# (new dependencies, a new command, a Swift upgrade), then compare `./dev bench`'s footprint rows.
#
# Needs valgrind (Debian: valgrind) and what `./dev bench` needs (etcd); builds the release binary.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
command -v valgrind >/dev/null || { echo "generate-function-order: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
map=$(mktemp --suffix=.map)
trap 'rm -f "$map"' EXIT
# The link map says which input section each profiled instruction is in; it changes nothing else.
binary=$(./dev release-binary service-monitor -Xlinker "-Map=$map")
stand_in=$(./dev release-binary stand-in-service)
python3 scripts/function-order.py --service-monitor "$binary" --map "$map" --stand-in "$stand_in" \
    --output packaging/function-order.txt "$@"
