#!/usr/bin/env bash
# Runs PostgreSQL in the foreground for the AppHost: creates the cluster on first use
# (password auth, loopback only) and turns SIGTERM into a fast shutdown so no backend lingers.
# usage: postgres.sh DATA_DIR PORT PASSWORD_FILE
set -euo pipefail
data=$1 port=$2 pwfile=$3

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/postgres" ] || { echo "PostgreSQL server binaries not found; run ./flywheel up once to install them" >&2; exit 1; }
mkdir -p "$data"

as_owner=()
home=$data
if [ "$(id -u)" = 0 ]; then
  # The server refuses to run as root: run it as the package's postgres user. That user must be
  # able to reach the cluster; when the data folder lies below a private one (a checkout in
  # /root, say), the cluster lives in /var/tmp instead and the data folder records where.
  as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups)
  if ! "${as_owner[@]}" test -x "$data"; then
    home=/var/tmp/flywheel-postgres/$(printf '%s' "$data" | sha256sum | cut -c1-16)
    mkdir -p "$home"
    chmod 755 /var/tmp/flywheel-postgres
  fi
  printf '%s\n' "$home" >"$data/cluster.home"
  chown postgres:postgres "$home"
fi

mkdir -p "$home/cluster" "$home/sock"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$home/cluster" "$home/sock"; fi
chmod 700 "$home/cluster"

if [ ! -s "$home/cluster/PG_VERSION" ]; then
  # initdb reads the password from a file the server's user can read; it is removed right after.
  install -m 600 "$pwfile" "$home/initdb.password"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$home/initdb.password"; fi
  "${as_owner[@]}" "$bin/initdb" -D "$home/cluster" -U postgres --auth=scram-sha-256 \
    --pwfile="$home/initdb.password" -E UTF8 --locale=C.UTF-8 >"$data/initdb.log"
  rm -f "$home/initdb.password"
fi

"${as_owner[@]}" "$bin/postgres" -D "$home/cluster" -p "$port" -k "$home/sock" \
  -c listen_addresses=127.0.0.1 -c max_connections=200 -c logging_collector=off 2>&1 &
pid=$!
echo "$pid" >"$data/server.pid"
trap 'kill -INT "$pid" 2>/dev/null' TERM INT
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
rm -f "$data/server.pid"
