#!/usr/bin/env bash
# The near-identity experiment (README, "Near-identity styles"): styles close to the photo,
# learned by the playbook's network (sigmoid output) and by the opt-in residual output, scored
# on held-out photos against the identity baseline (the albedo itself).
# Eight real photos from Debian's python3-skimage for training, four others held out; targets
# made by ImageMagick; 200 epochs of 64 random 32×32 patches per image (the issue's protocol).
# Needs python3-skimage, imagemagick and gmic (sepia). STYLES=... and EPOCHS=... narrow or shorten a run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
sk=/usr/lib/python3/dist-packages/skimage/data
out=${OUT:-out/near-identity}
epochs=${EPOCHS:-200}
styles=${STYLES:-kuwahara gmic-kuwahara edge posterize grade sepia}
# ABLATE=1: on Kuwahara only, what else might explain the sigmoid network's shortfall
# (channel dropout, capacity, training length), each changed on its own.
ablate=${ABLATE:-0}
train_photos="astronaut.png coffee.png rocket.jpg motorcycle_left.png hubble_deep_field.jpg ihc.png camera.png grass.png"
heldout_photos="chelsea.png retina.jpg coins.png brick.png"
cnnv3() { node dist/cli/bin.js "$@"; }

style() { # style NAME IN OUT
  case $1 in
    kuwahara) convert "$2" -kuwahara 1.5 -strip "PNG24:$3" ;;
    # dark outlines drawn over the photo
    edge) convert "$2" \( +clone -colorspace gray -edge 1 -negate -level 60%,100% \) -compose multiply -composite -strip "PNG24:$3" ;;
    posterize) convert "$2" -posterize 4 -strip "PNG24:$3" ;;
    grade) convert "$2" -modulate 105,140,100 -sigmoidal-contrast 5,45% -fill '#ff9040' -colorize 12% -strip "PNG24:$3" ;;
    sepia) gmic -v - "$2" -sepia -o "$3" >/dev/null ;;
    gmic-kuwahara) gmic -v - "$2" -kuwahara 2 -o "$3" >/dev/null ;;
    *) echo "unknown style $1" >&2; exit 2 ;;
  esac
}

mkdir -p "$out/photos/train" "$out/photos/heldout"
for f in $train_photos; do convert "$sk/$f" -resize '320x320>' -strip "PNG24:$out/photos/train/${f%.*}.png"; done
for f in $heldout_photos; do convert "$sk/$f" -resize '320x320>' -strip "PNG24:$out/photos/heldout/${f%.*}.png"; done

for s in $styles; do
  for split in train heldout; do
    mkdir -p "$out/$s/targets/$split"
    for p in "$out/photos/$split"/*.png; do style "$s" "$p" "$out/$s/targets/$split/$(basename "${p%.*}")_styled.png"; done
    rm -rf "$out/$s/$split"
    cnnv3 pack-photo --photos "$out/photos/$split" --targets "$out/$s/targets/$split" --output "$out/$s/$split/simple" > /dev/null
  done
  runs=("sigmoid:--output-mode sigmoid" "preset:--preset near-identity")
  if [[ $ablate == 1 ]]; then
    [[ $s == kuwahara ]] || continue
    runs=("sigmoid-no-dropout:--channel-dropout-p 0" "sigmoid-wide-8-16:--enc-channels 8,16"
          "sigmoid-3x-epochs:--epochs $((epochs * 3))" "residual-no-dropout:--output-mode residual --channel-dropout-p 0")
  fi
  for spec in "${runs[@]}"; do
    mode=${spec%%:*}
    run="$out/$s/runs/$mode"
    rm -rf "$run"
    echo "== $s, $mode"
    # shellcheck disable=SC2086 # the run's extra flags are words
    cnnv3 train --input "$out/$s/train" --val "$out/$s/heldout" --epochs "$epochs" --detector random \
      --patch-size 32 --patches-per-image 64 --seed 1 --device cpu ${spec#*:} \
      --checkpoint-every 0 --checkpoint-dir "$run" | grep -E "^Epoch [0-9]+/[0-9]+ " | tail -1
    cnnv3 export "$run/best.safetensors" --output "$run/export" > /dev/null
    # The weights file carries its model (widths, output mode): eval needs no size flags.
    cnnv3 eval --weights "$run/export/cnn_v3_weights.bin" --film "$run/export/cnn_v3_film_mlp.bin" \
      --input "$out/$s/heldout" --json > "$run/eval.json"
    node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(`   held-out PSNR ${r.mean.psnr.toFixed(2)} dB, SSIM ${r.mean.ssim.toFixed(4)}; identity ${r.identity.psnr.toFixed(2)} dB, ${r.identity.ssim.toFixed(4)}`)' "$run/eval.json"
  done
done
