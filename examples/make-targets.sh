#!/usr/bin/env bash
# Makes the stylised targets for the bundled example photos with ImageMagick (Debian's
# `imagemagick` package): a warm, contrasty colour grade. The results are committed, so the
# main job does not need ImageMagick; rerun this after changing the look or the photos.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v convert >/dev/null || { echo "make-targets.sh: ImageMagick is missing: apt-get install imagemagick" >&2; exit 2; }
for photo in "$here"/photos/*.{png,jpg}; do
  [ -e "$photo" ] || continue
  name=$(basename "${photo%.*}")
  convert "$photo" -modulate 105,140,100 -sigmoidal-contrast 5,45% \
    -fill '#ff9040' -colorize 12% -strip "PNG24:$here/targets/${name}_styled.png"
  echo "$here/targets/${name}_styled.png"
done
