#!/usr/bin/env bash
# The README's main job on the bundled example data: photos + ImageMagick-made targets →
# sample directories → feature summary → a short training run → the two weight files → the
# trained effect on WebGPU (a hardware GPU through Dawn, else SwiftShader) → a short clip of the
# example demo (frames, and demo.mp4 when ffmpeg is there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cnnv3() { node dist/cli/bin.js "$@"; }
out=${CNNV3_OUT:-out}
rm -rf "$out/checkpoints"

echo "== 1. pack the example photos with their stylised targets → $out/dataset/simple"
cnnv3 pack-photo --photos examples/photos --targets examples/targets --output "$out/dataset/simple"

echo "== 2. inspect a sample: size, kind and its 20 feature channels (cnnv3 inspect $out/dataset shows all)"
cnnv3 inspect "$out/dataset/simple/sample_cat"

echo "== 3. train a short run on the CPU → $out/checkpoints"
cnnv3 train --input "$out/dataset" --epochs 30 --patch-size 32 --patches-per-image 64 \
  --checkpoint-dir "$out/checkpoints" --checkpoint-every 10 --seed 1 --device cpu

echo "== 4. export the weights → $out/export"
cnnv3 export "$out/checkpoints/checkpoint_epoch_30.safetensors" --output "$out/export"

echo "== 5. run the trained effect on WebGPU → $out/cat_cnn.png"
cnnv3 infer --weights "$out/export/cnn_v3_weights.bin" --film "$out/export/cnn_v3_film_mlp.bin" \
  --photo examples/photos/cat.png --cond 0,0,0,0.5,0.5 --output "$out/cat_cnn.png"
echo "== 6. check the GPU against the CPU reference on that photo"
cnnv3 parity --weights "$out/export/cnn_v3_weights.bin" --film "$out/export/cnn_v3_film_mlp.bin" \
  --photo examples/photos/cat.png --cond 0,0,0,0.5,0.5
echo "== 7. render two seconds of the example demo (.seq: the Blender model on its scene, then the built-in scene) → $out/demo"
cnnv3 demo examples/demo/example.seq --out "$out/demo" --width 128 --height 72 --fps 12 --from 3 --to 5 --stability
