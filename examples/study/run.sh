#!/usr/bin/env bash
# The training-settings study (README, "Which detector, patch size, full image?"): eight real
# photos from Debian's python3-skimage, targets made by ImageMagick with the example grade
# (examples/make-targets.sh), two held out; one training run per setting, held-out PSNR per
# epoch, one plot. Needs python3-skimage and imagemagick; about 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
sk=/usr/lib/python3/dist-packages/skimage/data
out=out/study
epochs=${EPOCHS:-100}
rm -rf "$out" && mkdir -p "$out/photos" "$out/targets"
for f in astronaut.png chelsea.png coffee.png rocket.jpg motorcycle_left.png motorcycle_right.png hubble_deep_field.jpg retina.jpg; do
  name=${f%.*}
  convert "$sk/$f" -resize '320x320>' "PNG24:$out/photos/$name.png"
  convert "$out/photos/$name.png" -modulate 105,140,100 -sigmoidal-contrast 5,45% \
    -fill '#ff9040' -colorize 12% -strip "PNG24:$out/targets/${name}_styled.png"
done
cnnv3() { node dist/cli/bin.js "$@"; }
cnnv3 pack-photo --photos "$out/photos" --targets "$out/targets" --output "$out/dataset/simple"
common=(--input "$out/dataset" --epochs "$epochs" --patches-per-image 64 --val-split 0.25 --seed 1 --checkpoint-every 0)
run() { local name=$1; shift; echo "== $name"; cnnv3 train "${common[@]}" --checkpoint-dir "$out/runs/$name" "$@" | grep -E '^(Validation|Epoch '"$epochs"'/)'; }
run harris-64 --detector harris --patch-size 64
run shi-tomasi-64 --detector shi-tomasi --patch-size 64
run random-64 --detector random --patch-size 64
run harris-32 --detector harris --patch-size 32
run full-image-256 --full-image --image-size 256
node dist/bench/study-plot.js examples/study/study.png "$out"/runs/*
