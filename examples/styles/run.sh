#!/usr/bin/env bash
# The styles example model (examples/styles/; README, "Styles and strength"): one network, two
# looks made by real tools, and a strength knob. Eight real photos of Debian's python3-skimage
# for training, four others held out; style (1,0) is ImageMagick's warm grade of
# make-targets.sh, style (0,1) G'MIC's sepia. Trained with --strength-cond audio_intensity
# --output-mode residual, 40 CPU epochs of 64 random 32×32 patches per image (about a minute on
# 2 cores), then scored on the held-out photos per style × strength. Needs python3-skimage,
# imagemagick and gmic. EPOCHS=... shortens a run; OUT=... moves its files. FEEDBACK_P=0.5
# TEMPORAL_WEIGHT=2 (the shipped model) trains the previous-frame feedback.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
sk=/usr/lib/python3/dist-packages/skimage/data
out=${OUT:-out/styles}
epochs=${EPOCHS:-40}
here=examples/styles
cnnv3() { node dist/cli/bin.js "$@"; }
for tool in convert gmic; do command -v $tool >/dev/null || { echo "run.sh: $tool is missing: apt-get install imagemagick gmic" >&2; exit 2; }; done

grade() { convert "$1" -modulate 105,140,100 -sigmoidal-contrast 5,45% -fill '#ff9040' -colorize 12% -strip "PNG24:$2"; }
sepia() { gmic -v - "$1" -sepia -o "$2" >/dev/null; }

rm -rf "$out" && mkdir -p "$out"
split() { # split NAME PHOTOS...
  local name=$1; shift
  mkdir -p "$out/photos/$name" "$out/targets/$name/grade" "$out/targets/$name/sepia"
  for f in "$@"; do
    local p="$out/photos/$name/${f%.*}.png"
    convert "$sk/$f" -resize '320x320>' -strip "PNG24:$p"
    grade "$p" "$out/targets/$name/grade/${f%.*}.png"
    sepia "$p" "$out/targets/$name/sepia/${f%.*}.png"
  done
  cnnv3 pack-photo --photos "$out/photos/$name" --targets "$out/targets/$name/grade" --output "$out/$name/grade" --style 1,0 > /dev/null
  cnnv3 pack-photo --photos "$out/photos/$name" --targets "$out/targets/$name/sepia" --output "$out/$name/sepia" --style 0,1 > /dev/null
}
split train astronaut.png coffee.png rocket.jpg motorcycle_left.png hubble_deep_field.jpg ihc.png camera.png grass.png
split heldout chelsea.png retina.jpg coins.png brick.png

cnnv3 train --input "$out/train" --val "$out/heldout" --epochs "$epochs" --detector random --patch-size 32 \
  --patches-per-image 64 --output-mode residual --strength-cond audio_intensity --seed 1 --device cpu \
  --feedback-p "${FEEDBACK_P:-0}" ${TEMPORAL_WEIGHT:+--temporal-weight "$TEMPORAL_WEIGHT"} \
  --checkpoint-every 0 --checkpoint-dir "$out/run" | grep -v "^Epoch [0-9]*/[0-9]* " || true
cnnv3 export "$out/run/checkpoint_epoch_$epochs.safetensors" --output "$out/export" > /dev/null
w=(--weights "$out/export/cnn_v3_weights.bin" --film "$out/export/cnn_v3_film_mlp.bin")

echo "== held-out photos, each style's targets: style × strength (PSNR against the targets and against the photo)"
for s in grade sepia; do
  echo "-- $s targets"
  cnnv3 eval "${w[@]}" --input "$out/heldout/$s" --sweep
  cnnv3 eval "${w[@]}" --input "$out/heldout/$s" --sweep --json > "$out/sweep_$s.json"
done
node -e '
const [g, s] = [0, 1].map((i) => require(require("path").resolve(process.argv[1 + i])));
const at = (rows, st, k) => rows.find((r) => r.style.join() === st && r.strength === k);
const f = (x) => x.toFixed(2);
console.log("== the claims (held-out photos)");
console.log(`grade (1,0) on grade targets ${f(at(g, "1,0", 1).psnr)} dB vs identity ${f(g[0].identity_psnr)}; on sepia targets ${f(at(s, "1,0", 1).psnr)}`);
console.log(`sepia (0,1) on sepia targets ${f(at(s, "0,1", 1).psnr)} dB vs identity ${f(s[0].identity_psnr)}; on grade targets ${f(at(g, "0,1", 1).psnr)}`);
console.log(`strength 0 against the photo: ${f(at(g, "1,0", 0).input_psnr)} dB (style 1,0), ${f(at(g, "0,1", 0).input_psnr)} dB (style 0,1)`);
console.log(`strength 0 / 0.5 / 1 on grade targets, style 1,0: ${[0, 0.5, 1].map((k) => f(at(g, "1,0", k).psnr)).join(" / ")} dB`);
' "$out/sweep_grade.json" "$out/sweep_sepia.json"

# A strip across style and strength on one held-out photo, for the README.
photo="$out/photos/heldout/chelsea.png"
tiles=()
for st in "1,0" "0.5,0.5" "0,1"; do
  for k in 0 0.5 1; do
    t="$out/strip_${st/,/_}_$k.png"
    cnnv3 infer "${w[@]}" --photo "$photo" --style "$st" --strength "$k" --output "$t" > /dev/null
    tiles+=("$t")
  done
done
montage "${tiles[@]}" -tile 3x3 -geometry 160x+2+2 -strip "PNG24:$out/strip.png"
echo "Wrote $out/strip.png (rows: style 1,0 / 0.5,0.5 / 0,1; columns: strength 0 / 0.5 / 1)"
echo "To ship: cp $out/export/*.bin $out/strip.png $here/"
