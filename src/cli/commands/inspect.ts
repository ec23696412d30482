import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CnnV3Error } from '../../errors.js';
import { channelStats, computeFeatures, FEATURE_NAMES, NUM_FEATURES } from '../../dataset/features.js';
import { INPUT_MODES, SAMPLE_MARKER, type InputMode } from '../../dataset/layout.js';
import { discoverSamples, loadSampleDir, sampleName } from '../../dataset/sample-node.js';
import { writeFileAtomic } from '../../util/atomic-node.js';
import { helpAsked, parseFlags, stringFlag } from '../args.js';
import type { CliIO } from '../io.js';

export const INSPECT_HELP = `Usage:
  cnnv3 inspect DIR [--input-mode simple|full]
  cnnv3 inspect SAMPLE_DIR --dump-features FILE [--layout nhwc|nchw]

Prints, for every sample under DIR (or DIR itself), its size, kind (simple = photo,
full = G-buffer) and the min / mean / max of each of the 20 feature channels.
--dump-features writes the 20 channels of one sample as little-endian float32, and
FILE.json = {"width":W,"height":H,"channels":20,"layout":L}. --layout nhwc (default):
row-major HWC, channel fastest; nchw: channel-first (1, 20, H, W), the 'features' input
of the ONNX model that cnnv3 export --onnx writes.
`;

/** Orders of --dump-features: channels last (the default), or channel-first for the ONNX model. */
const DUMP_LAYOUTS = ['nhwc', 'nchw'] as const;
type DumpLayout = (typeof DUMP_LAYOUTS)[number];

const fmt = (v: number) => v.toFixed(4).padStart(8);

export async function inspectCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    'inspect',
    argv,
    {
      'dump-features': { type: 'string' },
      'input-mode': { type: 'string' },
      layout: { type: 'string' },
    },
    true,
  );
  if (helpAsked(values, io, INSPECT_HELP)) return 0;
  if (positionals.length !== 1) throw new CnnV3Error('cnnv3 inspect: expected one directory (see cnnv3 inspect --help)', 2);
  const dir = positionals[0]!;
  const modeRaw = stringFlag(values, 'input-mode');
  if (modeRaw !== undefined && !(INPUT_MODES as readonly string[]).includes(modeRaw)) {
    throw new CnnV3Error(`cnnv3 inspect: --input-mode must be simple or full, got ${JSON.stringify(modeRaw)}`, 2);
  }
  const dump = stringFlag(values, 'dump-features');
  const layout = stringFlag(values, 'layout');
  if (layout !== undefined && !(DUMP_LAYOUTS as readonly string[]).includes(layout)) {
    throw new CnnV3Error(`cnnv3 inspect: --layout must be one of ${DUMP_LAYOUTS.join(', ')}, got ${JSON.stringify(layout)}`, 2);
  }
  if (layout !== undefined && dump === undefined) throw new CnnV3Error('cnnv3 inspect: --layout applies to --dump-features FILE only', 2);

  if (dump !== undefined) {
    const isSample = await stat(join(dir, SAMPLE_MARKER)).then((s) => s.isFile(), () => false);
    if (!isSample) throw new CnnV3Error(`${dir}: --dump-features needs one sample directory (one that holds ${SAMPLE_MARKER})`);
    const sample = await loadSampleDir(dir);
    const f = computeFeatures(sample);
    const chosen: DumpLayout = (layout as DumpLayout | undefined) ?? 'nhwc';
    const n = sample.width * sample.height;
    const le = new Uint8Array(f.byteLength);
    // Float32Array is host-endian; write little-endian explicitly. f is HWC: f[p·20 + c].
    const dv = new DataView(le.buffer);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < NUM_FEATURES; c++) dv.setFloat32(4 * (chosen === 'nhwc' ? p * NUM_FEATURES + c : c * n + p), f[p * NUM_FEATURES + c]!, true);
    }
    await writeFileAtomic(dump, le);
    await writeFileAtomic(`${dump}.json`, `${JSON.stringify({ width: sample.width, height: sample.height, channels: NUM_FEATURES, layout: chosen })}\n`);
    const shape = chosen === 'nhwc' ? `${sample.width}×${sample.height}×${NUM_FEATURES}` : `1×${NUM_FEATURES}×${sample.height}×${sample.width} (NCHW)`;
    io.stdout(`Wrote ${shape} float32 features to ${dump} (+ ${dump}.json)\n`);
    return 0;
  }

  const dirs = await discoverSamples(dir, modeRaw as InputMode | undefined);
  io.stdout(`${dirs.length} sample${dirs.length === 1 ? '' : 's'} in ${dir}\n`);
  for (const d of dirs) {
    const sample = await loadSampleDir(d, sampleName(dir, d));
    const stats = channelStats(computeFeatures(sample));
    const targetNote =
      sample.targetWidth === sample.width && sample.targetHeight === sample.height
        ? ''
        : `, target ${sample.targetWidth}×${sample.targetHeight} resized`;
    io.stdout(`\n${sample.name}: ${sample.width}×${sample.height} ${sample.kind}${targetNote}\n`);
    io.stdout(`  ch  ${'channel'.padEnd(13)}     min     mean      max\n`);
    stats.forEach((s, c) => {
      io.stdout(`  ${String(c).padStart(2)}  ${FEATURE_NAMES[c]!.padEnd(13)}${fmt(s.min)} ${fmt(s.mean)} ${fmt(s.max)}\n`);
    });
  }
  return 0;
}
