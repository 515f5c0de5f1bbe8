#!/usr/bin/env bash
# Builds the OCI image of service-monitor around an already built binary, without a container
# engine or daemon (umoci writes the image layout directly): the binary, exactly the shared
# libraries it links, CA certificates and an unprivileged user, on an empty base. Writes
# OUTPUT_DIR/service-monitor_VERSION_ARCH.oci.tar (an oci-archive: `podman load -i` or
# `podman run oci-archive:FILE`) and prints its path on stdout.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: packaging/build-image.sh BINARY OUTPUT_DIR [VERSION]
  BINARY      the service-monitor executable to ship (release: built as ./dev image does)
  OUTPUT_DIR  where service-monitor_VERSION_ARCH.oci.tar is written (created if missing)
  VERSION     image version and tag (default: what `BINARY --version` prints)
The image is named localhost/service-monitor:VERSION; SOURCE_DATE_EPOCH, when set, fixes its dates.
IMAGE_SOURCE sets the org.opencontainers.image.source label (default: the URL of the checkout's
git remote "origin"; no label when there is none).
USAGE
}

die() { printf 'build-image.sh: %s\n' "$*" >&2; exit 1; }
note() { printf 'build-image.sh: %s\n' "$*" >&2; }

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
{ [ $# -ge 2 ] && [ $# -le 3 ]; } || { usage >&2; exit 64; }
binary=$1
output=$2
packaging=$(cd "$(dirname "$0")" && pwd)
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then die "$binary: not an executable file"; fi
for tool in umoci ldd strip tar dpkg python3; do
    command -v "$tool" >/dev/null || die "$tool is needed (Debian packages umoci, libc-bin, binutils, tar, dpkg, python3)"
done
certificates=/etc/ssl/certs/ca-certificates.crt
[ -s "$certificates" ] || die "$certificates is missing (Debian package ca-certificates)"

version=${3:-$("$binary" --version)}
[[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "${version@Q} cannot be an image tag"
# Debian's architecture names are the OCI ones for amd64, arm64, ppc64el aside (ppc64le).
architecture=$(dpkg --print-architecture)
[ "$architecture" = ppc64el ] && architecture=ppc64le
uid=65532  # the user the image runs as; owns nothing in the image
created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)

repository=$(dirname "$packaging")
source_url=${IMAGE_SOURCE:-$(git -C "$repository" remote get-url origin 2>/dev/null || true)}
revision=$(git -C "$repository" rev-parse HEAD 2>/dev/null || true)
provenance=()
[ -n "$source_url" ] && provenance+=(--config.label "org.opencontainers.image.source=$source_url")
[ -n "$revision" ] && provenance+=(--config.label "org.opencontainers.image.revision=$revision")

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/service-monitor-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
layout=$work/layout
install -d -m 0755 "$root"

# --- files ---------------------------------------------------------------------------------------
install -D -m 0755 "$binary" "$root/usr/bin/service-monitor"
# Stripped as build-deb.sh strips the packaged binary (symbol table and debug info go): the build
# id stays, so the service-monitor-dbgsym package of the same build serves gdb and coredumps.
strip --remove-section=.comment --remove-section=.note "$root/usr/bin/service-monitor"

# Every library the dynamic loader maps for the binary, the loader itself included, at the path it
# is found on this machine (so the binary's RUNPATH and the loader's default directories find it
# in the image too). ldd resolves the whole tree, not only the binary's own DT_NEEDED entries.
# The binary opens libsystemd itself, at its first call (its .note.dlopen says so): that library
# and the tree ldd resolves for it come too.
declare -A libraries=()  # path -> 1
loader=
add_tree() {  # ELF_FILE: every library ldd resolves for it, the loader among them
    local first second third _
    while read -r first second third _; do
        case "$first:$second" in
            linux-vdso.so.*:*|linux-gate.so.*:*) continue ;;    # provided by the kernel
            *:"=>") [ "$third" = not ] && die "ldd cannot find $first, which $1 needs"; libraries[$third]=1 ;;
            /*:*) loader=$first; libraries[$first]=1 ;;         # the loader, "path (address)"
            *) die "unexpected ldd line: $first $second $third" ;;
        esac
    done < <(ldd "$1")
}
add_tree "$binary"
[ -n "$loader" ] || die "$binary: ldd shows no dynamic loader; is it a dynamic ELF executable?"
dlopen_libraries=$("$packaging/dlopen-libraries.py" "$binary") || die "cannot list the libraries $binary opens with dlopen"
while read -r _ path; do
    [ -n "$path" ] || continue
    libraries[$path]=1
    add_tree "$path"
done <<<"$dlopen_libraries"
for library in "${!libraries[@]}"; do
    # cp -L: the file itself under the name the loader asks for (no symlink chains to copy).
    install -d -m 0755 "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
    chmod 0644 "$root$library"
done
# The kernel runs the loader (PT_INTERP), which then maps the binary: it must be executable.
chmod 0755 "$root$loader"

install -D -m 0644 "$certificates" "$root/etc/ssl/certs/ca-certificates.crt"
cat > "$root/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
service-monitor:x:$uid:$uid:service-monitor:/nonexistent:/sbin/nologin
PASSWD
cat > "$root/etc/group" <<GROUP
root:x:0:
service-monitor:x:$uid:
GROUP
# glibc's built-in files and dns sources: /etc/hosts (podman fills it) before DNS.
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
install -d -m 1777 "$root/tmp"

# --- image ---------------------------------------------------------------------------------------
# A full reference: podman names the loaded image by it (a bare tag would become localhost/TAG).
tag=localhost/service-monitor:$version
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci insert --image "$layout:$tag" --history.created "$created" \
    --history.created_by "packaging/build-image.sh" "$root" /
umoci config --image "$layout:$tag" --no-history --created "$created" \
    --os linux --architecture "$architecture" \
    --config.entrypoint /usr/bin/service-monitor \
    --config.user "$uid:$uid" \
    --config.workingdir / \
    --config.env PATH=/usr/bin \
    --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --config.stopsignal SIGTERM \
    --config.label org.opencontainers.image.title=service-monitor \
    --config.label "org.opencontainers.image.description=Health monitor and startup sequencer for clustered services (etcd v3, systemd)" \
    --config.label "org.opencontainers.image.version=$version" \
    --config.label "org.opencontainers.image.created=$created" \
    --config.label org.opencontainers.image.licenses=Apache-2.0 \
    "${provenance[@]}" \
    --manifest.annotation "org.opencontainers.image.version=$version"
umoci gc --layout "$layout"

mkdir -p "$output"
archive=$(cd "$output" && pwd)/service-monitor_${version}_${architecture}.oci.tar
# The archive is the layout directory itself (what podman's oci-archive transport reads).
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$created" \
    -C "$layout" -cf "$archive.partial" oci-layout index.json blobs
mv "$archive.partial" "$archive"
note "built $archive ($(du -k "$archive" | cut -f1) KiB; ${#libraries[@]} libraries)"
printf '%s\n' "$archive"
