# Sourced by scripts/test and scripts/faults: a throwaway PostgreSQL cluster from Debian's
# binaries on a free loopback port, removed on exit.
#
#   pg_find_binaries          sets pg_bin (empty when PostgreSQL is not installed)
#   pg_start_cluster [-c k=v …]
#                             sets pg_url (superuser URL) and pg_ctl (the command that stops
#                             and starts it again: `$pg_ctl -w stop`, `$pg_ctl -w start`)
#   pg_start_standby DB       after pg_start_cluster: database DB on it, and a synchronous
#                             streaming standby; sets pg_failover_url (both hosts, the
#                             read-write one wanted), pg_stop_primary and pg_promote

pg_find_binaries() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$pg_bin" ] && command -v pg_ctl >/dev/null; then
        pg_bin=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    fi
    if [ -n "$pg_bin" ] && [ ! -x "$pg_bin/initdb" ]; then
        pg_bin=""
    fi
}

pg_start_cluster() {
    pg_cluster=$(mktemp -d /tmp/qvt-campus-pg.XXXXXX)
    pg_as_owner=()
    if [ "$(id -u)" = 0 ]; then
        # PostgreSQL refuses to run as root.
        local owner=postgres
        id "$owner" >/dev/null 2>&1 || owner=nobody
        chown "$owner" "$pg_cluster"
        pg_as_owner=(runuser -u "$owner" --)
    fi
    trap pg_stop_cluster EXIT
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || shuf -i 20000-60000 -n 1)
    "${pg_as_owner[@]}" "$pg_bin/initdb" -D "$pg_cluster/data" -U postgres -A trust -E UTF8 --no-locale >"$pg_cluster/initdb.log" 2>&1 \
        || { cat "$pg_cluster/initdb.log" >&2; exit 1; }
    # The settings go to the configuration file, so that a plain `pg_ctl start` (the fault
    # suite's restart) finds them again.
    {
        echo "port = $port"
        echo "unix_socket_directories = '$pg_cluster'"
        echo "listen_addresses = '127.0.0.1'"
        echo "max_connections = 300"
        local setting
        for setting in "$@"; do
            [ "$setting" = -c ] || echo "${setting/=/ = }"
        done
    } >>"$pg_cluster/data/postgresql.conf"
    pg_ctl="${pg_as_owner[*]} $pg_bin/pg_ctl -D $pg_cluster/data -l $pg_cluster/server.log"
    $pg_ctl -w -t 60 start >/dev/null || { cat "$pg_cluster/server.log" >&2; exit 1; }
    pg_port=$port
    pg_url="postgres://postgres@127.0.0.1:$port/postgres"
    echo "==> throwaway PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

pg_psql() {
    "${pg_as_owner[@]}" "$pg_bin/psql" -h 127.0.0.1 -U postgres -X -q -t -A "$@"
}

pg_start_standby() {
    local db=$1 sport
    pg_psql -p "$pg_port" -c "CREATE DATABASE $db" postgres >/dev/null
    sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || shuf -i 20000-60000 -n 1)
    # -R: standby.signal and the connection to the primary; a fast checkpoint, not a spread
    # one (minutes on a cluster the suite has just written to).
    "${pg_as_owner[@]}" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres \
        -D "$pg_cluster/standby" -R -X stream --checkpoint=fast >"$pg_cluster/basebackup.log" 2>&1 \
        || { cat "$pg_cluster/basebackup.log" >&2; exit 1; }
    echo "port = $sport" >>"$pg_cluster/standby/postgresql.conf"
    pg_standby_ctl="${pg_as_owner[*]} $pg_bin/pg_ctl -D $pg_cluster/standby -l $pg_cluster/standby.log"
    $pg_standby_ctl -w -t 60 start >/dev/null || { cat "$pg_cluster/standby.log" >&2; exit 1; }
    # A commit is acknowledged once the standby has it: losing the primary loses none.
    pg_psql -p "$pg_port" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
        -c "SELECT pg_reload_conf()" postgres >/dev/null
    local waited=0
    until [ "$(pg_psql -p "$pg_port" -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'" postgres)" = 1 ]; do
        waited=$((waited + 1))
        [ "$waited" -lt 300 ] || { echo "the standby never became synchronous" >&2; exit 1; }
        sleep 0.1
    done
    pg_failover_url="postgres://postgres@127.0.0.1:$pg_port,127.0.0.1:$sport/$db?target_session_attrs=read-write"
    pg_stop_primary="$pg_ctl -m immediate stop"
    pg_promote="$pg_standby_ctl -w promote"
    echo "==> synchronous standby on 127.0.0.1:$sport"
}

pg_stop_cluster() {
    [ -z "${pg_standby_ctl:-}" ] || $pg_standby_ctl -m immediate stop >/dev/null 2>&1 || true
    $pg_ctl -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_cluster"
}
