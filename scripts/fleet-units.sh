#!/usr/bin/env bash
# Writes a runnable copy of the shipped Elasticsearch example (units/examples/elasticsearch) for
# a private systemd user manager: the one way the fleet scenario test and `./dev demo` derive their
# units, so both prove the shipped layout. The copy differs from the shipped files only by text
# substitution, and every substitution must hit (a shipped file that drifted fails here, loudly):
#
#   /usr/bin/service-monitor                        -> --service-monitor PATH (the binary just built)
#   EnvironmentFile=-/etc/environment               -> EnvironmentFile=STATE/instance-%i.env
#                                                      (COREOS_PRIVATE_IPV4 of that instance)
#   EnvironmentFile=-/etc/service-monitor/elasticsearch.env
#                                                   -> EnvironmentFile=STATE/elasticsearch.env
#                                                      (SERVICE_MONITOR_ENDPOINTS, SERVICE_MONITOR_PREFIX)
#   main unit: `exec /usr/share/elasticsearch/bin/elasticsearch …'`
#                                                   -> records the host list it was handed in
#                                                      STATE/unicast-hosts-%i, then execs the stand-in
#                                                      on ${COREOS_PRIVATE_IPV4}:HTTP_PORT (503 for
#                                                      --unhealthy-for after start, then the status in
#                                                      STATE/status-%i, 200 when absent)
#   monitor unit: `:9200/`                          -> `:HTTP_PORT/`, and --watch-options appended to
#                                                      its ExecStart (the shipped defaults check every 10 s)
#
# usage: scripts/fleet-units.sh --units DIR --state DIR --service-monitor PATH --stand-in PATH \
#            --endpoints URLS --prefix KEY --instance 1=127.0.0.11 [--instance 2=127.0.0.12 …] \
#            [--http-port 9200] [--unhealthy-for 2s] [--watch-options '--interval 500ms --timeout 300ms']
#
# Writes DIR/elasticsearch-lease@.service, DIR/elasticsearch@.service,
# DIR/elasticsearch-monitor@.service and STATE/elasticsearch.env, STATE/instance-N.env.
# Prints nothing on success.
set -euo pipefail

die() { printf 'fleet-units: %s\n' "$*" >&2; exit 1; }

repository=$(cd "$(dirname "$0")/.." && pwd)
source_dir=$repository/units/examples/elasticsearch
units= state= service_monitor= stand_in= endpoints= prefix= http_port=9200 unhealthy_for=2s watch_options=
instances=()
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "missing value for $1"
    case "$1" in
        --units) units=$2 ;;
        --state) state=$2 ;;
        --service-monitor) service_monitor=$2 ;;
        --stand-in) stand_in=$2 ;;
        --endpoints) endpoints=$2 ;;
        --prefix) prefix=$2 ;;
        --instance) instances+=("$2") ;;
        --http-port) http_port=$2 ;;
        --unhealthy-for) unhealthy_for=$2 ;;
        --watch-options) watch_options=$2 ;;
        *) die "unknown option $1" ;;
    esac
    shift 2
done
for required in units state service_monitor stand_in endpoints prefix; do
    [ -n "${!required}" ] || die "--${required//_/-} is required"
done
[ ${#instances[@]} -gt 0 ] || die "at least one --instance N=ADDRESS is required"
[ -x "$service_monitor" ] || die "not an executable: $service_monitor"
[ -x "$stand_in" ] || die "not an executable: $stand_in"
mkdir -p "$units" "$state"

# shellcheck source=scripts/example-units.sh
. "$repository/scripts/example-units.sh"

for name in elasticsearch-lease@.service elasticsearch@.service elasticsearch-monitor@.service; do
    read_shipped_unit "$source_dir/$name" elasticsearch
    case "$name" in
        elasticsearch@.service)
            # The program: from its exec to the closing quote of the sh -c script.
            program='exec /usr/share/elasticsearch/bin/elasticsearch'
            [[ $unit == *"$program"*"'"$'\n'* ]] || die "$current: expected \`$program … '\` in ExecStart"
            before=${unit%%"$program"*}
            after=${unit#*"$program"}
            after=${after#*"'"$'\n'}
            unit="$before"'echo "unicast hosts: [$${UNICAST_HOSTS}]" && echo "$${UNICAST_HOSTS}" >'"$state/unicast-hosts-%i"' && \
    exec '"$stand_in"' --listen $${COREOS_PRIVATE_IPV4}:'"$http_port"' --unhealthy-for '"$unhealthy_for"' \
        --status-file '"$state/status-%i"' --request-log '"$state/requests-%i"$'\'\n'"$after"
            ;;
        elasticsearch-monitor@.service)
            replace unit '--monitor-url=http://${COREOS_PRIVATE_IPV4}:9200/ \' \
                "--monitor-url=http://\${COREOS_PRIVATE_IPV4}:$http_port/ ${watch_options:+$watch_options }\\"
            ;;
    esac
    printf '%s' "$unit" > "$units/$name"
done

printf 'SERVICE_MONITOR_ENDPOINTS=%s\nSERVICE_MONITOR_PREFIX=%s\n' "$endpoints" "$prefix" > "$state/elasticsearch.env"
for instance in "${instances[@]}"; do
    [[ $instance == ?*=?* ]] || die "--instance wants N=ADDRESS, got $instance"
    printf 'COREOS_PRIVATE_IPV4=%s\n' "${instance#*=}" > "$state/instance-${instance%%=*}.env"
done
