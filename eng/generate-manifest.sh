#!/usr/bin/env bash
# Regenerates the Aspire publishing manifest from the AppHost.
#   eng/generate-manifest.sh            rewrites aspire-manifest.json at the repository root
#   eng/generate-manifest.sh OUT.json   writes it to OUT.json instead (the staleness test compares)
#   --no-build                          use the AppHost as last built (tests, right after the build)
# The manifest's project paths are relative to the file it is written to, so it is always
# generated at the root and then moved: the copy is byte-identical to what the root would hold.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=()
if [ "${1:-}" = --no-build ]; then build=(--no-build); shift; fi
out=${1:-$root/aspire-manifest.json}
scratch=$(mktemp "$root/.aspire-manifest.XXXXXX.json")
trap 'rm -f "$scratch"' EXIT

DOTNET_NOLOGO=1 ASPIRE_ALLOW_UNSECURED_TRANSPORT=true \
  dotnet run --project "$root/AppHost" "${build[@]}" --no-launch-profile -- \
  --publisher manifest --output-path "$scratch" >/dev/null
mv "$scratch" "$out"
trap - EXIT
