#!/usr/bin/env bash
# The photo example model (examples/weights; README, "Example models"): the warm, contrasty
# ImageMagick grade of make-targets.sh learned from eight real photos of Debian's
# python3-skimage, four others held out. 600 epochs of 64 Harris-centred 32×32 patches per
# image, cosine learning rate; held-out PSNR stops improving after about 500 epochs (about
# 10 minutes on 2 cores). Needs python3-skimage and imagemagick. FEEDBACK_P=0.5 TEMPORAL_WEIGHT=1
# FEEDBACK_NOISE=0.05 is the shipped model (examples/weights); ENC_CHANNELS=16,16 FEEDBACK_P=0.5
# FEEDBACK_STILL=0.75 TEMPORAL_WEIGHT=1 FEEDBACK_NOISE=0.08 the live-video one (examples/webcam;
# README, "Temporal stability").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sk=/usr/lib/python3/dist-packages/skimage/data
out=${OUT:-out/photo-example}
epochs=${EPOCHS:-600}
cnnv3() { node dist/cli/bin.js "$@"; }
rm -rf "$out" && mkdir -p "$out"
split() { # split NAME PHOTOS...
  local name=$1; shift
  mkdir -p "$out/photos/$name" "$out/targets/$name"
  for f in "$@"; do
    convert "$sk/$f" -resize '320x320>' -strip "PNG24:$out/photos/$name/${f%.*}.png"
    convert "$out/photos/$name/${f%.*}.png" -modulate 105,140,100 -sigmoidal-contrast 5,45% \
      -fill '#ff9040' -colorize 12% -strip "PNG24:$out/targets/$name/${f%.*}_styled.png"
  done
  cnnv3 pack-photo --photos "$out/photos/$name" --targets "$out/targets/$name" --output "$out/$name/simple"
}
split train astronaut.png coffee.png rocket.jpg motorcycle_left.png hubble_deep_field.jpg ihc.png camera.png grass.png
split heldout chelsea.png retina.jpg coins.png brick.png
cnnv3 train --input "$out/train" --val "$out/heldout" --epochs "$epochs" --lr-schedule cosine \
  --detector harris --patch-size 32 --patches-per-image 64 --seed 1 --device cpu ${ENC_CHANNELS:+--enc-channels "$ENC_CHANNELS"} --feedback-p "${FEEDBACK_P:-0}" ${TEMPORAL_WEIGHT:+--temporal-weight "$TEMPORAL_WEIGHT"} ${FEEDBACK_NOISE:+--feedback-noise "$FEEDBACK_NOISE"} ${FEEDBACK_STILL:+--feedback-still "$FEEDBACK_STILL"} \
  --checkpoint-every 100 --checkpoint-dir "$out/run"
cnnv3 export "$out/run/checkpoint_epoch_$epochs.safetensors" --output "$out/export"
cnnv3 eval --weights "$out/export/cnn_v3_weights.bin" --film "$out/export/cnn_v3_film_mlp.bin" --input "$out/heldout"
echo "To ship: cp $out/export/*.bin examples/weights/"
