#!/usr/bin/env bash
# The fleet example, live: three instances of a stand-in service started at the same moment go
# through lease -> start -> healthy -> release -> discovery under a systemd user manager, with a
# throwaway etcd on loopback. Run it as `./dev demo [galera] [--keep]`, which first installs what is
# missing and starts journald and a private systemd user manager (as `./dev test` does), then runs
# this.
#
#   galera               the Galera example instead: three real MariaDB Galera nodes
#   --keep               leave etcd, the units and the manager running (prints how to stop them)
#   --scratch-path DIR   build directory for `swift build` (default .build)
#
# The units are the shipped units/examples/elasticsearch ones, copied by scripts/fleet-units.sh
# (the same copy the fleet scenario test runs): only the Elasticsearch program (-> the stand-in,
# unhealthy for its first 2 s), the binary path, the environment files (etcd endpoint; one
# address per instance, 127.0.0.11-13) and a faster check interval differ. With `galera`, the
# units/examples/galera ones, copied by scripts/galera-units.sh (the copy the Galera scenario test
# runs): each node gets its own data directory, socket and loopback address.
set -euo pipefail
cd "$(dirname "$0")/.."

keep= scratch_path=.build example=elasticsearch
while [ $# -gt 0 ]; do
    case "$1" in
        galera) example=galera ;;
        --keep) keep=1 ;;
        --scratch-path) [ $# -ge 2 ] || { echo "demo: --scratch-path needs a value" >&2; exit 64; }; scratch_path=$2; shift ;;
        *) echo "usage: ./dev demo [galera] [--keep] [--scratch-path DIR]" >&2; exit 64 ;;
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
label=$example
units_dir=$XDG_RUNTIME_DIR/systemd/user
# (galera-units.sh writes the one-unit form, galera-run@.service, too; the demo runs the three.)
templates=("$label-lease@.service" "$label@.service" "$label-monitor@.service" "$label-run@.service")
unit_names=()
for i in "${instances[@]}"; do unit_names+=("$label@$i.service" "$label-monitor@$i.service" "$label-lease@$i.service"); done

# --- what this script starts, stopped on the way out (unless --keep) ------------------------------
work= etcd_pid= follower_pid= units_installed=
cleanup() {
    local status=$?
    [ -n "$follower_pid" ] && kill "$follower_pid" 2>/dev/null
    if [ -n "$keep" ] && [ "$status" -eq 0 ]; then return; fi
    if [ -n "$units_installed" ]; then
        systemctl --user stop "${unit_names[@]}" 2>/dev/null || true
        systemctl --user reset-failed "${unit_names[@]}" 2>/dev/null || true
        for template in "${templates[@]}"; do rm -f "$units_dir/$template"; done
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
say "building service-monitor$([ "$example" = elasticsearch ] && echo " and the stand-in service") (debug)"
swift build --scratch-path "$scratch_path" --product service-monitor
[ "$example" = elasticsearch ] && swift build --scratch-path "$scratch_path" --product stand-in-service
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
# The Galera nodes run as mysql, in directories under it.
chmod 0755 "$work"
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
say "installing units/examples/$example into the user manager ($units_dir)"
instance_options=()
for i in "${instances[@]}"; do instance_options+=(--instance "$i=127.0.0.1$i"); done
units_installed=1
if [ "$example" = galera ]; then
    echo "   (initialising a data directory per node with mariadb-install-db)"
    scripts/galera-units.sh --units "$units_dir" --state "$work/state" --service-monitor "$service_monitor" \
        --endpoints "$endpoint" --prefix /service-monitor "${instance_options[@]}" \
        --watch-options '--interval 1s --timeout 800ms'
    systemctl --user daemon-reload
    echo "   galera-lease@.service    acquire-lease (oneshot): waits for its turn"
    echo "   galera@.service          mariadbd --wsrep-cluster-address=gcomm://\$(service-monitor hosts --label %p)"
    echo "                            as mysql on \${COREOS_PRIVATE_IPV4} (empty list: bootstrap a new cluster)"
    echo "   galera-monitor@.service  watch --monitor-command 'mariadb … wsrep status' --expect-body '^Synced, wsrep_ready=ON,'"
    echo "                            (Type=notify, BindsTo the main unit, checks every 1 s here): releases the"
    echo "                            lease once the node is Synced"
else
    scripts/fleet-units.sh --units "$units_dir" --state "$work/state" \
        --service-monitor "$service_monitor" --stand-in "$bin/stand-in-service" \
        --endpoints "$endpoint" --prefix /service-monitor "${instance_options[@]}" \
        --watch-options '--interval 1s --timeout 500ms'
    systemctl --user daemon-reload
    echo "   elasticsearch-lease@.service    acquire-lease (oneshot): waits for its turn"
    echo "   elasticsearch@.service          \$(service-monitor hosts --label %p --port 9300), then the stand-in"
    echo "                                   on \${COREOS_PRIVATE_IPV4}:9200 (503 for 2 s after start, then 200)"
    echo "   elasticsearch-monitor@.service  watch (Type=notify, BindsTo the main unit, checks every 1 s here):"
    echo "                                   registers, and releases the lease at the first healthy check"
fi
export SERVICE_MONITOR_ENDPOINTS=$endpoint

# --- follow the journal as it happens ------------------------------------------------------------
cursor=$(journalctl --quiet --show-cursor -n 0 | sed -n 's/^-- cursor: //p')
# The main unit's own output: all of the stand-in's; of mariadbd's, what tells the story.
case "$example" in
    galera) shown='^wsrep cluster address|gcomm: (bootstrapping new group|connecting to group)|State transfer (from|to) .* complete|Synchronized with group|Shifting' ;;
    *) shown= ;;
esac
journalctl --follow --no-pager --output json --after-cursor "$cursor" | python3 -u -c '
import json, re, sys, datetime
prefix, shown = sys.argv[1], re.compile(sys.argv[2])
for line in sys.stdin:
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    unit = entry.get("_SYSTEMD_USER_UNIT") or entry.get("_SYSTEMD_UNIT") or ""
    if not unit.startswith(prefix):
        continue
    message = entry.get("MESSAGE")
    if isinstance(message, list):
        message = bytes(message).decode("utf-8", "replace")
    # acquire-lease also prints its outcome on stdout; the structured entry says it already.
    if not message or (entry.get("SYSLOG_IDENTIFIER") != "sh" and "SERVICE_MONITOR_LABEL" not in entry):
        continue
    if entry.get("SYSLOG_IDENTIFIER") == "sh" and not shown.search(message):
        continue
    when = datetime.datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6).strftime("%H:%M:%S.%f")[:-3]
    name = unit[:-len(".service")] if unit.endswith(".service") else unit
    print(f"   {when}  {name:<26} {message}", flush=True)
' "$label" "$shown" &
follower_pid=$!

say "starting $label@1, @2 and @3 at the same moment (systemctl --user start --no-block …)"
systemctl --user start --no-block "$label@1.service" "$label@2.service" "$label@3.service"

# The product itself says when they are all up: hosts --min blocks on an etcd watch.
"$service_monitor" hosts --label "$label" --min 3 --wait 120s >/dev/null \
    || die "the three instances were not up within 120 s (see journalctl SERVICE_MONITOR_LABEL=$label)"
for _ in $(seq 100); do
    "$service_monitor" status --label "$label" | grep -q 'startup lease: free; queue: empty' && break
    sleep 0.1
done
sleep 0.5 # let the last lines reach the follower
kill "$follower_pid" 2>/dev/null; wait "$follower_pid" 2>/dev/null || true; follower_pid=

if [ "$example" = galera ]; then
    say "each node was handed the ones already up (its ExecStart ran service-monitor hosts --label %p)"
    for i in "${instances[@]}"; do
        handed=$(tail -n 1 "$work/state/node-$i/handed")
        printf '   galera@%s: gcomm://%s%s\n' "$i" "$handed" "$([ -z "$handed" ] && echo '   <- bootstrapped the cluster')"
    done

    mariadb_on() { local node=$1; shift; mariadb --socket="$work/state/node-$node/mysqld.sock" -N -B "$@"; }
    say "each node's view of the cluster"
    for i in "${instances[@]}"; do
        printf '   galera@%s: %s\n' "$i" "$(mariadb_on "$i" -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_cluster_state_uuid', 'wsrep_local_state_comment')" | tr '\t\n' '= ')"
    done

    say "a row written on galera@1, read on galera@2 and galera@3"
    mariadb_on 1 -e "CREATE DATABASE demo; CREATE TABLE demo.greetings (id INT PRIMARY KEY, said VARCHAR(40)); INSERT INTO demo.greetings VALUES (1, 'hello from galera@1')"
    for i in 2 3; do
        printf '   galera@%s: %s\n' "$i" "$(mariadb_on "$i" -e "SET SESSION wsrep_sync_wait = 1; SELECT said FROM demo.greetings")"
    done

    say "service-monitor hosts --label $label"
    "$service_monitor" hosts --label "$label"
else
    say "each instance was handed the ones already up (its ExecStart ran service-monitor hosts --label %p --port 9300)"
    for i in "${instances[@]}"; do
        printf '   elasticsearch@%s: [%s]\n' "$i" "$(cat "$work/state/unicast-hosts-$i")"
    done

    say "service-monitor hosts --label $label --port 9300"
    "$service_monitor" hosts --label "$label" --port 9300
fi

say "service-monitor status"
"$service_monitor" status

say "the events, in the journal:"
echo "   journalctl SERVICE_MONITOR_LABEL=$label                                    # everything about the label"
echo "   journalctl SERVICE_MONITOR_LABEL=$label MESSAGE_ID=3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b   # each instance up"
echo "   journalctl SERVICE_MONITOR_LABEL=$label -o verbose                         # with every field"

if [ -n "$keep" ]; then
    say "kept running (--keep)"
    echo "   export XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR SERVICE_MONITOR_ENDPOINTS=$endpoint"
    echo "   systemctl --user list-units '$label*'; $service_monitor status"
    echo "   to stop: systemctl --user exit; kill $etcd_pid; rm -rf $work"
else
    say "stopping the units, etcd and the user manager"
fi
