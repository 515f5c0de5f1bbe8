#!/usr/bin/env bash
# The fleet example, live: three instances of a stand-in service started at the same moment go
# through lease -> start -> healthy -> release -> discovery under a systemd user manager, with a
# throwaway etcd on loopback. Run it as `./dev demo [--keep]`, which first installs what is missing
# and starts journald and a private systemd user manager (as `./dev test` does), then runs this.
#
#   --keep               leave etcd, the units and the manager running (prints how to stop them)
#   --scratch-path DIR   build directory for `swift build` (default .build)
#
# The units are the shipped units/examples/elasticsearch ones, copied by scripts/fleet-units.sh
# (the same copy the fleet scenario test runs): only the Elasticsearch program (-> the stand-in,
# unhealthy for its first 2 s), the binary path, the environment files (etcd endpoint; one
# address per instance, 127.0.0.11-13) and a faster check interval differ.
set -euo pipefail
cd "$(dirname "$0")/.."

keep= scratch_path=.build
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --scratch-path) [ $# -ge 2 ] || { echo "demo: --scratch-path needs a value" >&2; exit 64; }; scratch_path=$2; shift ;;
        *) echo "usage: ./dev demo [--keep] [--scratch-path DIR]" >&2; exit 64 ;;
    esac
    shift
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ -n "${XDG_RUNTIME_DIR:-}" ] && [ -S "$XDG_RUNTIME_DIR/systemd/private" ] \
    || die "no systemd user manager at \$XDG_RUNTIME_DIR/systemd/private: run this as ./dev demo"
for tool in etcd etcdctl journalctl systemctl python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed: run this as ./dev demo (as root), which installs it"
done

instances=(1 2 3)
label=elasticsearch
units_dir=$XDG_RUNTIME_DIR/systemd/user
unit_names=()
for i in "${instances[@]}"; do unit_names+=("elasticsearch@$i.service" "elasticsearch-monitor@$i.service" "elasticsearch-lease@$i.service"); done

# --- what this script starts, stopped on the way out (unless --keep) ------------------------------
work= etcd_pid= follower_pid= units_installed=
cleanup() {
    local status=$?
    [ -n "$follower_pid" ] && kill "$follower_pid" 2>/dev/null
    if [ -n "$keep" ] && [ "$status" -eq 0 ]; then return; fi
    if [ -n "$units_installed" ]; then
        systemctl --user stop "${unit_names[@]}" 2>/dev/null || true
        systemctl --user reset-failed "${unit_names[@]}" 2>/dev/null || true
        rm -f "$units_dir"/elasticsearch-lease@.service "$units_dir"/elasticsearch@.service "$units_dir"/elasticsearch-monitor@.service
        systemctl --user daemon-reload 2>/dev/null || true
    fi
    if [ -n "$etcd_pid" ]; then
        kill "$etcd_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$etcd_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    [ -n "$work" ] && rm -rf "$work"
    return 0
}
trap cleanup EXIT

# --- build ---------------------------------------------------------------------------------------
say "building service-monitor and the stand-in service (debug)"
swift build --scratch-path "$scratch_path" --product service-monitor
swift build --scratch-path "$scratch_path" --product stand-in-service
bin=$(swift build --scratch-path "$scratch_path" --show-bin-path)
service_monitor=$bin/service-monitor

# --- a throwaway etcd on loopback ---------------------------------------------------------------
free_ports() {
    python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))'
}
work=$(mktemp -d /tmp/service-monitor-demo.XXXXXX)
read -r client_port peer_port < <(free_ports)
endpoint=http://127.0.0.1:$client_port
say "starting a throwaway etcd at $endpoint"
setsid etcd --name demo --data-dir "$work/etcd" \
    --listen-client-urls "$endpoint" --advertise-client-urls "$endpoint" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "demo=http://127.0.0.1:$peer_port" --log-level error </dev/null >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do
    etcdctl --endpoints "$endpoint" endpoint health >/dev/null 2>&1 && break
    kill -0 "$etcd_pid" 2>/dev/null || { cat "$work/etcd.log" >&2; die "etcd exited"; }
    sleep 0.2
done
etcdctl --endpoints "$endpoint" endpoint health >/dev/null 2>&1 || { cat "$work/etcd.log" >&2; die "etcd did not become healthy"; }

# --- the example's units, in the user manager -----------------------------------------------------
say "installing units/examples/elasticsearch into the user manager ($units_dir)"
instance_options=()
for i in "${instances[@]}"; do instance_options+=(--instance "$i=127.0.0.1$i"); done
scripts/fleet-units.sh --units "$units_dir" --state "$work/state" \
    --service-monitor "$service_monitor" --stand-in "$bin/stand-in-service" \
    --endpoints "$endpoint" --prefix /service-monitor "${instance_options[@]}" \
    --watch-options '--interval 1s --timeout 500ms'
units_installed=1
systemctl --user daemon-reload
echo "   elasticsearch-lease@.service    acquire-lease (oneshot): waits for its turn"
echo "   elasticsearch@.service          \$(service-monitor hosts --label %p --port 9300), then the stand-in"
echo "                                   on \${COREOS_PRIVATE_IPV4}:9200 (503 for 2 s after start, then 200)"
echo "   elasticsearch-monitor@.service  watch (Type=notify, BindsTo the main unit, checks every 1 s here):"
echo "                                   registers, and releases the lease at the first healthy check"
export SERVICE_MONITOR_ENDPOINTS=$endpoint

# --- follow the journal as it happens ------------------------------------------------------------
cursor=$(journalctl --quiet --show-cursor -n 0 | sed -n 's/^-- cursor: //p')
journalctl --follow --no-pager --output json --after-cursor "$cursor" | python3 -u -c '
import json, sys, datetime
for line in sys.stdin:
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    unit = entry.get("_SYSTEMD_USER_UNIT") or entry.get("_SYSTEMD_UNIT") or ""
    if not unit.startswith("elasticsearch"):
        continue
    message = entry.get("MESSAGE")
    if isinstance(message, list):
        message = bytes(message).decode("utf-8", "replace")
    # acquire-lease also prints its outcome on stdout; the structured entry says it already.
    if not message or (entry.get("SYSLOG_IDENTIFIER") != "sh" and "SERVICE_MONITOR_LABEL" not in entry):
        continue
    when = datetime.datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6).strftime("%H:%M:%S.%f")[:-3]
    name = unit[:-len(".service")] if unit.endswith(".service") else unit
    print(f"   {when}  {name:<26} {message}", flush=True)
' &
follower_pid=$!

say "starting elasticsearch@1, @2 and @3 at the same moment (systemctl --user start --no-block …)"
systemctl --user start --no-block elasticsearch@1.service elasticsearch@2.service elasticsearch@3.service

# The product itself says when they are all up: hosts --min blocks on an etcd watch.
"$service_monitor" hosts --label "$label" --min 3 --wait 90s >/dev/null \
    || die "the three instances were not up within 90 s (see journalctl SERVICE_MONITOR_LABEL=$label)"
for _ in $(seq 100); do
    "$service_monitor" status --label "$label" | grep -q 'startup lease: free; queue: empty' && break
    sleep 0.1
done
sleep 0.5 # let the last lines reach the follower
kill "$follower_pid" 2>/dev/null; wait "$follower_pid" 2>/dev/null || true; follower_pid=

say "each instance was handed the ones already up (its ExecStart ran service-monitor hosts --label %p --port 9300)"
for i in "${instances[@]}"; do
    printf '   elasticsearch@%s: [%s]\n' "$i" "$(cat "$work/state/unicast-hosts-$i")"
done

say "service-monitor hosts --label $label --port 9300"
"$service_monitor" hosts --label "$label" --port 9300

say "service-monitor status"
"$service_monitor" status

say "the events, in the journal:"
echo "   journalctl SERVICE_MONITOR_LABEL=$label                                    # everything about the label"
echo "   journalctl SERVICE_MONITOR_LABEL=$label MESSAGE_ID=3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b   # each instance up"
echo "   journalctl SERVICE_MONITOR_LABEL=$label -o verbose                         # with every field"

if [ -n "$keep" ]; then
    say "kept running (--keep)"
    echo "   export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR SERVICE_MONITOR_ENDPOINTS=$endpoint"
    echo "   systemctl --user list-units 'elasticsearch*'; $service_monitor status"
    echo "   to stop: systemctl --user exit; kill $etcd_pid; rm -rf $work"
else
    say "stopping the units, etcd and the user manager"
fi
