# Sourced by scripts/test and scripts/faults: a throwaway PostgreSQL cluster from Debian's
# binaries on a free loopback port, removed on exit.
#
#   pg_find_binaries          sets pg_bin (empty when PostgreSQL is not installed)
#   pg_start_cluster [-c k=v …]
#                             sets pg_url (superuser URL) and pg_ctl (the command that stops
#                             and starts it again: `$pg_ctl -w stop`, `$pg_ctl -w start`)

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
    pg_url="postgres://postgres@127.0.0.1:$port/postgres"
    echo "==> throwaway PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

pg_stop_cluster() {
    $pg_ctl -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_cluster"
}
