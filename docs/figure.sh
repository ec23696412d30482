#!/usr/bin/env bash
# Makes docs/input-output.jpg, the README's opening picture: an example photo, then the styles
# example model's two looks at full strength (cnnv3 infer on WebGPU). Needs a build (npm run
# build) and ImageMagick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v montage >/dev/null || { echo "figure.sh: montage is missing: apt-get install imagemagick" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
photo=examples/photos/cat.png
w=(--weights examples/styles/cnn_v3_weights.bin --film examples/styles/cnn_v3_film_mlp.bin)
node dist/cli/bin.js infer --photo "$photo" "${w[@]}" --cond 0,0,1,1,0 --output "$tmp/grade.png" >/dev/null
node dist/cli/bin.js infer --photo "$photo" "${w[@]}" --cond 0,0,1,0,1 --output "$tmp/sepia.png" >/dev/null
montage -label 'input photo' "$photo" -label 'style_p0 = 1 (warm grade)' "$tmp/grade.png" -label 'style_p1 = 1 (sepia)' "$tmp/sepia.png" \
  -tile 3x1 -geometry +4+4 -font DejaVu-Sans -pointsize 14 -background white -strip -quality 90 docs/input-output.jpg
echo "wrote docs/input-output.jpg"
