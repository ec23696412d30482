#!/usr/bin/env bash
# Renders a .blend to multilayer EXR G-buffers for cnn-v3 (playbook §1b, step 1):
#
#   blender/render.sh SCENE.blend [blender_export.py options]
#   blender/render.sh scene.blend --output renders/ --width 640 --height 360 --start-frame 1 --end-frame 2
#
# Runs `blender -b SCENE.blend -P blender_export.py -- OPTIONS`; see
# `blender/render.sh --help` for the options. BLENDER=/path/to/blender picks another Blender
# (e.g. BLENDER=blender4 for a 4.5 LTS install).
set -euo pipefail
# Builtins only up to the Blender check, so it works with any PATH.
src="${BASH_SOURCE[0]}"
case "$src" in */*) here="${src%/*}" ;; *) here=. ;; esac
here="$(cd "$here" && pwd)"
prog="${0##*/}"
blender="${BLENDER:-blender}"

usage() {
  echo "usage: $prog SCENE.blend [--output DIR] [--width N] [--height N] [--start-frame N] [--end-frame N] [--view-layer NAME|?] [--samples N]"
}

if ! command -v "$blender" >/dev/null 2>&1; then
  {
    echo "$prog: Blender is not installed (no '$blender' on PATH)."
    echo "  Debian/Ubuntu: sudo apt-get install blender      (Blender 3.4 on Debian 12)"
    echo "  or download 4.5 LTS from https://www.blender.org/download/ and run with BLENDER=/path/to/blender"
    echo "  Without Blender, photos still work: cnnv3 pack-photo (see the README)."
  } >&2
  exit 2
fi

if [[ $# -lt 1 || "$1" == -* ]]; then
  if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
    usage
    "$blender" -b --factory-startup --python-exit-code 2 -P "$here/blender_export.py" -- --help 2>&1 |
      grep -v -e '^Blender [0-9]' -e '^Blender quit' -e '^$' || true
    exit 0
  fi
  usage >&2
  exit 2
fi
scene="$1"
shift
if [[ ! -f "$scene" ]]; then
  echo "$prog: $scene: no such .blend file" >&2
  exit 2
fi

# --python-exit-code: a failing script ends Blender with a non-zero status (Blender's default is 0).
exec "$blender" -b "$scene" --python-exit-code 1 -P "$here/blender_export.py" -- "$@"
