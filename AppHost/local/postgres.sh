#!/usr/bin/env bash
# Runs PostgreSQL in the foreground for the AppHost: creates the cluster on first use
# (password auth, loopback only) and turns SIGTERM into a fast shutdown so no backend lingers.
# usage: postgres.sh DATA_DIR PORT PASSWORD_FILE
set -euo pipefail
data=$1 port=$2 pwfile=$3

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/postgres" ] || { echo "PostgreSQL server binaries not found; run ./flywheel up once to install them" >&2; exit 1; }

as_owner=()
if [ "$(id -u)" = 0 ]; then
  # The server refuses to run as root: run it as the package's postgres user.
  as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi

mkdir -p "$data/cluster" "$data/sock"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data" "$data/cluster" "$data/sock" "$pwfile"; fi
chmod 700 "$data/cluster"

if [ ! -s "$data/cluster/PG_VERSION" ]; then
  "${as_owner[@]}" "$bin/initdb" -D "$data/cluster" -U postgres --auth=scram-sha-256 \
    --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >"$data/initdb.log"
fi

"${as_owner[@]}" "$bin/postgres" -D "$data/cluster" -p "$port" -k "$data/sock" \
  -c listen_addresses=127.0.0.1 -c max_connections=200 -c logging_collector=off &
pid=$!
echo "$pid" >"$data/server.pid"
trap 'kill -INT "$pid" 2>/dev/null' TERM INT
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
rm -f "$data/server.pid"
