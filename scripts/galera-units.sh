#!/usr/bin/env bash
# Writes a runnable copy of the shipped Galera example (units/examples/galera) for a private
# systemd user manager, several nodes on one machine: the one way the Galera scenario test and
# `./dev demo galera` derive their units, so both prove the shipped layout. Like fleet-units.sh,
# the copy differs from the shipped files only by text substitution, and every substitution must
# hit (a shipped file that drifted fails here, loudly):
#
#   /usr/bin/service-monitor                  -> --service-monitor PATH (the binary just built)
#   EnvironmentFile=-/etc/environment         -> EnvironmentFile=STATE/instance-%i.env
#                                                (COREOS_PRIVATE_IPV4 of that node)
#   EnvironmentFile=-/etc/service-monitor/galera.env
#                                             -> EnvironmentFile=STATE/galera.env
#                                                (SERVICE_MONITOR_ENDPOINTS, SERVICE_MONITOR_PREFIX)
#   main unit: `exec /usr/sbin/mariadbd`      -> appends the peer list it was handed to
#                                                STATE/node-%i/handed (one line per start), then
#                                                execs mariadbd --defaults-file=STATE/node-%i/my.cnf
#   monitor unit: `/usr/bin/mariadb --protocol=socket`
#                                             -> `/usr/bin/mariadb --socket=STATE/node-%i/mysqld.sock`
#   monitor unit: `--service-id=galera-%i \`  -> the same with --watch-options appended (the
#                                                shipped defaults check every 10 s)
#   one-unit form (galera-run@.service): the same check substitutions, and
#     `/usr/sbin/mariadbd \`                  -> STATE/record-handed STATE/node-%i/handed
#                                                /usr/sbin/mariadbd --defaults-file=STATE/node-%i/my.cnf \
#                                                (the recorder appends the peer list of the
#                                                gcomm:// address run hands mariadbd, then execs it)
#
# Each node's my.cnf includes the shipped 70-service-monitor-galera.cnf (and nothing of /etc/mysql),
# then gives the node its own data directory, socket, and addresses: the node's loopback address
# for MariaDB (3306), group communication (4567), IST (4568) and rsync SST (4444), so the ports stay
# the defaults. Each data directory is initialised with wsrep off (mariadb-install-db), owned by
# mysql, whom the shipped unit runs mariadbd as (rsync SST fails as root).
#
# usage: scripts/galera-units.sh --units DIR --state DIR --service-monitor PATH --endpoints URLS \
#            --prefix KEY --instance 1=127.0.0.11 [--instance 2=127.0.0.12 …] \
#            [--watch-options '--interval 1s --timeout 800ms']
#
# Writes DIR/galera-lease@.service, DIR/galera@.service, DIR/galera-monitor@.service,
# DIR/galera-run@.service (start one form or the other), STATE/record-handed, STATE/galera.env,
# STATE/instance-N.env and STATE/node-N/ (my.cnf, data/). Prints nothing on success.
set -euo pipefail

die() { printf 'galera-units: %s\n' "$*" >&2; exit 1; }

repository=$(cd "$(dirname "$0")/.." && pwd)
source_dir=$repository/units/examples/galera
units= state= service_monitor= endpoints= prefix= watch_options=
instances=()
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "missing value for $1"
    case "$1" in
        --units) units=$2 ;;
        --state) state=$2 ;;
        --service-monitor) service_monitor=$2 ;;
        --endpoints) endpoints=$2 ;;
        --prefix) prefix=$2 ;;
        --instance) instances+=("$2") ;;
        --watch-options) watch_options=$2 ;;
        *) die "unknown option $1" ;;
    esac
    shift 2
done
for required in units state service_monitor endpoints prefix; do
    [ -n "${!required}" ] || die "--${required//_/-} is required"
done
[ ${#instances[@]} -gt 0 ] || die "at least one --instance N=ADDRESS is required"
[ -x "$service_monitor" ] || die "not an executable: $service_monitor"
for tool in /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb /usr/lib/galera/libgalera_smm.so; do
    [ -e "$tool" ] || die "$tool is missing (./dev installs mariadb-server and galera-4)"
done
id mysql >/dev/null 2>&1 || die "no user mysql (./dev installs mariadb-server, which adds it)"
mkdir -p "$units" "$state"
state=$(cd "$state" && pwd)
# mysql must reach its node directories.
chmod o+x "$state"

# shellcheck source=scripts/example-units.sh
. "$repository/scripts/example-units.sh"

for name in galera-lease@.service galera@.service galera-monitor@.service galera-run@.service; do
    read_shipped_unit "$source_dir/$name" galera
    case "$name" in
        galera@.service)
            replace unit 'exec /usr/sbin/mariadbd' \
                'echo "$${PEERS}" >>'"$state"'/node-%i/handed && exec /usr/sbin/mariadbd --defaults-file='"$state"'/node-%i/my.cnf'
            ;;
        galera-monitor@.service | galera-run@.service)
            replace unit '/usr/bin/mariadb --protocol=socket' "/usr/bin/mariadb --socket=$state/node-%i/mysqld.sock"
            replace unit '--service-id=galera-%i \' "--service-id=galera-%i ${watch_options:+$watch_options }\\"
            ;;&
        galera-run@.service)
            replace unit '/usr/sbin/mariadbd \' "$state/record-handed $state/node-%i/handed /usr/sbin/mariadbd --defaults-file=$state/node-%i/my.cnf \\"
            ;;
    esac
    printf '%s' "$unit" > "$units/$name"
done

# The one-unit form's recorder: what `run` handed mariadbd, as the three-unit copy's sh records it.
cat > "$state/record-handed" <<'RECORDER'
#!/bin/sh
# usage: record-handed FILE COMMAND ARG…: appends the peer list of COMMAND's
# --wsrep-cluster-address=gcomm://LIST to FILE (one line per start), then execs COMMAND.
handed=$1
shift
for argument; do
    case $argument in
        --wsrep-cluster-address=gcomm://*) printf '%s\n' "${argument#--wsrep-cluster-address=gcomm://}" >>"$handed" ;;
    esac
done
exec "$@"
RECORDER
chmod 0755 "$state/record-handed"

printf 'SERVICE_MONITOR_ENDPOINTS=%s\nSERVICE_MONITOR_PREFIX=%s\n' "$endpoints" "$prefix" > "$state/galera.env"
install -m 0644 "$source_dir/70-service-monitor-galera.cnf" "$state/70-service-monitor-galera.cnf"
initialising=()
for instance in "${instances[@]}"; do
    [[ $instance == ?*=?* ]] || die "--instance wants N=ADDRESS, got $instance"
    number=${instance%%=*} address=${instance#*=}
    node=$state/node-$number
    printf 'COREOS_PRIVATE_IPV4=%s\n' "$address" > "$state/instance-$number.env"
    # Its own temporary directory too: three bootstraps sharing /tmp were seen to lose each
    # other's temporary tables ("Could not remove temporary table '/tmp/#sql-temptable-…'").
    mkdir -p "$node/data" "$node/tmp"
    cat > "$node/my.cnf" <<CNF
!include $state/70-service-monitor-galera.cnf

# Node $number of the runnable copy: its own directories, and its own address for every port.
[mariadbd]
datadir                = $node/data
socket                 = $node/mysqld.sock
pid-file               = $node/mysqld.pid
tmpdir                 = $node/tmp
bind-address           = $address
skip-name-resolve
innodb_buffer_pool_size = 32M
innodb_log_file_size   = 16M
wsrep_provider_options = "gmcast.listen_addr=tcp://$address:4567; ist.recv_addr=$address:4568; gcache.size=16M"
wsrep_sst_receive_address = $address:4444

[client]
socket                 = $node/mysqld.sock
CNF
    : > "$node/handed"
    chown -R mysql:mysql "$node"
    runuser -u mysql -- test -w "$node/data" \
        || die "user mysql cannot write $node/data: every directory above it must be searchable (chmod o+x)"
    # With wsrep off: a minimal configuration, not the node's.
    mariadb-install-db --no-defaults --user=mysql --datadir="$node/data" --tmpdir="$node/tmp" --skip-test-db --innodb-log-file-size=16M \
        --auth-root-authentication-method=socket >"$node/install-db.log" 2>&1 &
    initialising+=("$!:$node")
done
for entry in "${initialising[@]}"; do
    wait "${entry%%:*}" || { cat "${entry#*:}/install-db.log" >&2; die "mariadb-install-db failed for ${entry#*:}"; }
done
