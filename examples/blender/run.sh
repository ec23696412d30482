#!/usr/bin/env bash
# The Blender example model (README, "Example models"): the G-buffer → Cycles beauty of a scene
# this repository builds. Builds blender/make_example_scene.py's table-top (and its .glb for the
# demo), renders 36 frames of one camera orbit with Cycles (96 samples, 256×144, no denoiser),
# packs them, holds out every sixth frame, trains 600 epochs with a cosine schedule on the CPU,
# exports, and scores the held-out frames against the identity baseline.
# Needs Blender (Debian: apt-get install blender). About 6 min of rendering and 8 min of
# training on 2 cores; FRAMES / EPOCHS / SAMPLES shorten it. FEEDBACK_P=0.5 TEMPORAL_WEIGHT=2
# (the shipped model) trains the previous-frame feedback (README, "Temporal stability").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${OUT:-out/blender-example}
frames=${FRAMES:-36}
epochs=${EPOCHS:-600}
samples=${SAMPLES:-96}
cnnv3() { node dist/cli/bin.js "$@"; }

rm -rf "$out" && mkdir -p "$out"
blender -b --factory-startup -P blender/make_example_scene.py -- --output "$out/scene.blend" \
  --glb "$out/scene.glb" --frames "$frames" 2> "$out/scene.log" > /dev/null
bash blender/render.sh "$out/scene.blend" --output "$out/exr" --width 256 --height 144 \
  --start-frame 1 --end-frame "$frames" --samples "$samples"
cnnv3 pack-blender --exr-dir "$out/exr" --output "$out/all"
mkdir -p "$out/train/full" "$out/heldout/full"
for d in "$out"/all/sample_*; do
  n=$((10#${d##*_}))
  if (( n % 6 == 0 )); then mv "$d" "$out/heldout/full/"; else mv "$d" "$out/train/full/"; fi
done
cnnv3 train --input "$out/train" --input-mode full --val "$out/heldout" --epochs "$epochs" \
  --lr-schedule cosine --detector harris --patch-size 32 --patches-per-image 64 --seed 1 \
  --device cpu --feedback-p "${FEEDBACK_P:-0}" ${TEMPORAL_WEIGHT:+--temporal-weight "$TEMPORAL_WEIGHT"} \
  --checkpoint-every 100 --checkpoint-dir "$out/run"
cnnv3 export "$out/run/checkpoint_epoch_$epochs.safetensors" --output "$out/export"
cnnv3 eval --weights "$out/export/cnn_v3_weights.bin" --film "$out/export/cnn_v3_film_mlp.bin" \
  --input "$out/heldout" --input-mode full
echo "To ship: cp $out/export/*.bin $out/scene.glb examples/blender/"
