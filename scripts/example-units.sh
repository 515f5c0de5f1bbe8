# Sourced by fleet-units.sh and galera-units.sh: the checked substitutions every runnable copy of
# a shipped example makes. The sourcing script defines die, service_monitor and state.

# Replaces every occurrence of $2 in the variable named $1 by $3, failing when there is none.
replace() {
    local -n text=$1
    [[ $text == *"$2"* ]] || die "$current: expected text not found (did the shipped unit change?): $2"
    text=${text//"$2"/"$3"}
}

# Reads the shipped unit $1 into `unit` (byte for byte, final newlines too; `current` names it)
# with what every copy changes: the binary, /etc/environment -> STATE/instance-%i.env (the
# instance's address), /etc/service-monitor/$2.env -> STATE/$2.env (etcd endpoint and prefix).
read_shipped_unit() {
    current=$1
    [ -f "$current" ] || die "missing shipped unit $current"
    unit=$(cat "$current"; printf x)
    unit=${unit%x}
    replace unit /usr/bin/service-monitor "$service_monitor"
    replace unit 'EnvironmentFile=-/etc/environment' "EnvironmentFile=$state/instance-%i.env"
    replace unit "EnvironmentFile=-/etc/service-monitor/$2.env" "EnvironmentFile=$state/$2.env"
}
