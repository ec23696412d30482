#!/usr/bin/env bash
# gen_sample.sh PHOTO TARGET OUTPUT_DIR
# The playbook's one-shot wrapper (§1a): packs a photo and its stylised target into a sample.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: gen_sample.sh PHOTO TARGET OUTPUT_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cli="$here/dist/cli/bin.js"
if [ ! -f "$cli" ]; then
  echo "gen_sample.sh: $cli is missing: run 'npm ci' (or 'npm run build') in $here first" >&2
  exit 2
fi
exec node "$cli" pack-photo --photo "$1" --target "$2" --output "$3"
