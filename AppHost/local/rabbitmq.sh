#!/usr/bin/env bash
# Runs a private RabbitMQ node in the foreground for the AppHost: its own epmd on its own port
# (so nothing is left behind and other nodes on the machine are untouched), its own cookie,
# data and logs under DATA_DIR, and one user whose password is read from PASSWORD_FILE.
# usage: rabbitmq.sh DATA_DIR AMQP_PORT DIST_PORT EPMD_PORT PASSWORD_FILE
set -euo pipefail
data=$1 port=$2 dist_port=$3 epmd_port=$4 pwfile=$5

server=/usr/lib/rabbitmq/bin/rabbitmq-server
[ -x "$server" ] || { echo "rabbitmq-server not found; run ./flywheel up once to install it" >&2; exit 1; }
mkdir -p "$data/home" "$data/mnesia" "$data/log"
umask 077
cat >"$data/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users = none
default_user = flywheel
default_pass = $(cat "$pwfile")
log.console = true
log.console.level = warning
log.file = false
CONF
echo '[].' >"$data/enabled_plugins"
# Crash dumps (erl_crash.dump, MnesiaCore.*) go to the working folder: keep them with the data.
data=$(cd "$data" && pwd)
cd "$data"

epmd -port "$epmd_port" -address 127.0.0.1 &
epmd_pid=$!
echo "$epmd_pid" >"$data/epmd.pid"

export HOME=$data/home ERL_EPMD_PORT=$epmd_port \
  RABBITMQ_NODENAME="flywheel-$port@localhost" RABBITMQ_USE_LONGNAME=false \
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$dist_port \
  RABBITMQ_CONFIG_FILE=$data/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$data/enabled_plugins \
  RABBITMQ_MNESIA_BASE=$data/mnesia RABBITMQ_LOG_BASE=$data/log \
  RABBITMQ_PID_FILE=$data/beam.pid RABBITMQ_ADVANCED_CONFIG_FILE=$data/advanced.config
"$server" &
pid=$!
echo "$pid" >"$data/server.pid"

stop() {
  kill -TERM "$pid" 2>/dev/null || true
}
trap stop TERM INT
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
# The broker is gone; its beam may have outlived the launcher script for a moment.
if [ -s "$data/beam.pid" ]; then
  beam=$(cat "$data/beam.pid")
  for _ in $(seq 50); do kill -0 "$beam" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$beam" 2>/dev/null || true
fi
kill -TERM "$epmd_pid" 2>/dev/null || true
wait "$epmd_pid" 2>/dev/null || true
rm -f "$data/server.pid" "$data/epmd.pid" "$data/beam.pid"
