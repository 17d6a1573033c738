#!/usr/bin/env bash
# Runs Azurite's Blob service in the foreground for the AppHost, storing under DATA_DIR.
# usage: azurite.sh DATA_DIR PORT TOOLS_DIR
set -euo pipefail
data=$1 port=$2 tools=$3

bin=$tools/azurite/node_modules/.bin/azurite-blob
[ -x "$bin" ] || { echo "Azurite not found in $tools; run ./flywheel up once to install it" >&2; exit 1; }
mkdir -p "$data"
node "$tools/azurite/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort "$port" \
  --location "$data" --skipApiVersionCheck --disableTelemetry &
pid=$!
echo "$pid" >"$data/server.pid"
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
rm -f "$data/server.pid"
