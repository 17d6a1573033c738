#!/usr/bin/env bash
# Runs redis-server in the foreground for the AppHost with append-only persistence under DATA_DIR.
# The password goes in a config file, not on the command line, so `ps` never shows it.
# usage: redis.sh DATA_DIR PORT PASSWORD_FILE
set -euo pipefail
data=$1 port=$2 pwfile=$3

command -v redis-server >/dev/null || { echo "redis-server not found; run ./flywheel up once to install it" >&2; exit 1; }
mkdir -p "$data"
umask 077
cat >"$data/redis.conf" <<CONF
bind 127.0.0.1
port $port
dir $data
appendonly yes
save ""
requirepass $(cat "$pwfile")
CONF

redis-server "$data/redis.conf" &
pid=$!
echo "$pid" >"$data/server.pid"
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
rm -f "$data/server.pid"
