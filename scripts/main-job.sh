#!/usr/bin/env bash
# The README's main job on the bundled example data: photos + ImageMagick-made targets →
# sample directories → per-sample feature summary. Later stages (train, export, render)
# extend this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cnnv3() { node dist/cli/bin.js "$@"; }
out=${CNNV3_OUT:-out}

echo "== 1. pack the example photos with their stylised targets → $out/dataset/simple"
cnnv3 pack-photo --photos examples/photos --targets examples/targets --output "$out/dataset/simple"

echo "== 2. inspect the dataset: size, kind and the 20 feature channels per sample"
cnnv3 inspect "$out/dataset"
