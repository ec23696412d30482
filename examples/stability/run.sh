#!/usr/bin/env bash
# Issue #18's stability figures for one model (README, "Temporal stability"), with and without
# the previous-frame feedback (prev_cnn), by `cnnv3 demo --stability` on the GPU (SwiftShader
# without one):
#   still   examples/photos/cat.png held for 5 s (60 frames, 128×72): drift of the last frame
#           against the first and the second;
#   scene   the built-in animated G-buffer scene, 4 s at 128×72: flicker ratio with / without
#           feedback and the lowest PSNR of the fed-back frame against the frame-by-frame one;
#   noisy   the same photo (320×212 crop) as a 5 s webcam-like video, fresh uniform noise every
#           frame (ffmpeg noise=alls=12:allf=t+u): the output's mean frame-to-frame change with /
#           without feedback and its PSNR against the clean photo's target (make-targets.sh's
#           grade), over frames 3…60.
# Usage: examples/stability/run.sh [WEIGHTS_DIR (default examples/weights)] ; OUT=... moves the
# files. Needs ffmpeg and imagemagick; about 2 min for a 4,8 model on SwiftShader, longer for
# wider ones (the effect's general path).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
w=$(realpath "${1:-examples/weights}")
out=${OUT:-out/stability}
for tool in ffmpeg convert; do command -v $tool >/dev/null || { echo "run.sh: $tool is missing: apt-get install ffmpeg imagemagick" >&2; exit 2; }; done
rm -rf "$out" && mkdir -p "$out"
out=$(realpath "$out")
cnnv3() { node dist/cli/bin.js "$@"; }
cnn="weights=$w/cnn_v3_weights.bin film=$w/cnn_v3_film_mlp.bin"

convert examples/photos/cat.png -crop 320x212+0+0 +repage -strip "PNG24:$out/clean.png"
convert "$out/clean.png" -modulate 105,140,100 -sigmoidal-contrast 5,45% -fill '#ff9040' -colorize 12% -strip "PNG24:$out/target.png"
ffmpeg -v error -loop 1 -i "$out/clean.png" -vf noise=alls=12:allf=t+u -t 5 -r 12 -c:v ffv1 "$out/noisy.mkv"

seq_file() { # seq_file NAME "SOURCE_EFFECT [prev_cnn]" SECONDS [SOURCE_ARGS]
  printf 'SEQUENCE 0 0 "%s"\nEFFECT + %s -> gbuf_feat0 gbuf_feat1 0 %s %s\nEFFECT + CNNv3Effect gbuf_feat0 gbuf_feat1 -> sink 0 %s %s\n' \
    "$1" "$2" "$3" "${4:-}" "$3" "$cnn" > "$out/$1.seq"
}
seq_file still "ImageFeaturesEffect prev_cnn" 5 "image=$(realpath examples/photos/cat.png)"
seq_file scene-fb "GBufferEffect prev_cnn" 4
seq_file scene-nofb "GBufferEffect" 4
seq_file noisy-fb "ImageFeaturesEffect prev_cnn" 5 "video=$out/noisy.mkv"
seq_file noisy-nofb "ImageFeaturesEffect" 5 "video=$out/noisy.mkv"
for s in still scene-fb scene-nofb; do
  cnnv3 demo "$out/$s.seq" --out "$out/$s" --width 128 --height 72 --fps 12 --stability --stability-json "$out/$s.json" > "$out/$s.log"
done
for s in noisy-fb noisy-nofb; do
  cnnv3 demo "$out/$s.seq" --out "$out/$s" --width 320 --height 212 --fps 12 --stability-json "$out/$s.json" > "$out/$s.log"
done
node --input-type=module - "$out" <<'JS'
import { readFileSync, readdirSync } from 'node:fs';
import { decodePng, psnr } from './dist/index.js';
const out = process.argv[2];
const rgb = (f) => { const r = decodePng(new Uint8Array(readFileSync(f)), f); const n = r.width * r.height; const o = new Float64Array(n * 3); for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) o[p * 3 + c] = r.data[p * r.channels + c] / 255; return o; };
const frames = (d) => readdirSync(`${out}/${d}`).filter((f) => f.startsWith('frame_')).sort().map((f) => rgb(`${out}/${d}/${f}`));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const still = frames('still');
console.log(`still photo, 60 frames fed back: frame 60 vs frame 1 ${psnr(still.at(-1), still[0], 3, [0, 1, 2]).toFixed(2)} dB, vs frame 2 ${psnr(still.at(-1), still[1], 3, [0, 1, 2]).toFixed(2)} dB`);
const ratio = (s) => { const t = JSON.parse(readFileSync(`${out}/${s}.json`, 'utf8')).total; return t.output / t.albedo; };
const fb = frames('scene-fb'), alone = frames('scene-nofb');
const lag = fb.map((f, i) => psnr(f, alone[i], 3, [0, 1, 2])).filter(Number.isFinite);
console.log(`built-in scene, 4 s: flicker ratio with feedback ${ratio('scene-fb').toFixed(3)}, frame by frame ${ratio('scene-nofb').toFixed(3)}; fed-back vs frame-by-frame picture, lowest ${lag.length ? Math.min(...lag).toFixed(2) : 'identical'} dB`);
const target = rgb(`${out}/target.png`);
const noisy = (s) => {
  const fs = frames(s).slice(2);
  let d = 0;
  for (let i = 1; i < fs.length; i++) for (let k = 0; k < fs[i].length; k++) d += Math.abs(fs[i][k] - fs[i - 1][k]);
  return { change: d / ((fs.length - 1) * fs[0].length), psnr: mean(fs.map((f) => psnr(f, target, 3, [0, 1, 2]))) };
};
const a = noisy('noisy-fb'), b = noisy('noisy-nofb');
console.log(`noisy still video: mean change with feedback ${a.change.toFixed(5)}, frame by frame ${b.change.toFixed(5)} (${(a.change / b.change).toFixed(3)}×); PSNR vs the clean target ${a.psnr.toFixed(2)} / ${b.psnr.toFixed(2)} dB`);
JS
