import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { CnnV3Error, fileError, isCnnV3Error } from '../../errors.js';
import { isExr, readExrParts } from '../../exr/exr.js';
import { packBlenderSample } from '../../pack/blender.js';
import { encodeStyleFile, STYLE_FILE } from '../../dataset/layout.js';
import { writeDirAtomic } from '../../util/atomic-node.js';
import { helpAsked, pairFlag, parseFlags, stringFlag } from '../args.js';
import type { CliIO } from '../io.js';
import { ProgressBar } from '../progress.js';

export const PACK_BLENDER_HELP = `Usage:
  cnnv3 pack-blender --exr FRAME.exr --output DIR [--view-layer NAME] [--style P0,P1]
  cnnv3 pack-blender --exr-dir RENDERS --output DIR [--view-layer NAME] [--style P0,P1]

Packs Blender multilayer OpenEXR renders (written by blender/blender_export.py) into sample
directories of seven PNGs (playbook §1b):

  target.png  Combined RGBA, linear → sRGB          albedo.png  DiffCol, linear → sRGB
  normal.png  Normal (world), octahedral RG          depth.png   Depth.Z → 65535/(z+1), 16-bit
  matid.png   IndexOB, clamped to 0..255             shadow.png  Shadow (255 = lit; 255 if absent)
  transp.png  1 − Combined alpha (0 = opaque)

--exr writes one sample to DIR. --exr-dir writes DIR/sample_<name>/ for every RENDERS/<name>.exr
(0001.exr → sample_0001), with a progress bar, and lists the files it could not pack.
--view-layer picks the layer in files with several (default: the one with a Combined pass).
--style P0,P1 writes style.json into every sample (see cnnv3 pack-photo --help).
A missing DiffCol, Normal, Depth or IndexOB pass is a warning (that file is zero or neutral);
a file without a Combined pass is an error.
`;

async function readExrFile(path: string): Promise<Uint8Array> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw fileError(path, 'is a directory, not an EXR file (use --exr-dir for a directory of renders)');
    return await readFile(path);
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fileError(path, 'EXR file not found');
    throw fileError(path, `cannot read (${code ?? (e as Error).message})`);
  }
}

/** Reads one EXR, packs it, and writes the sample directory in one atomic step. Returns the warnings. */
export async function packBlenderFile(exrPath: string, outDir: string, viewLayer?: string, style?: readonly [number, number]): Promise<string[]> {
  const bytes = await readExrFile(exrPath);
  if (!isExr(bytes)) throw fileError(exrPath, 'not an OpenEXR file (no EXR magic number)');
  const parts = readExrParts(bytes, exrPath); // the passes may sit in any part
  const { files, warnings } = packBlenderSample(parts, { name: exrPath, ...(viewLayer !== undefined ? { viewLayer } : {}) });
  await writeDirAtomic(outDir, { ...files, ...(style ? { [STYLE_FILE]: encodeStyleFile(style) } : {}) });
  return warnings;
}

async function listExrs(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw fileError(dir, '--exr-dir is not a directory');
    entries = await readdir(dir);
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw fileError(dir, code === 'ENOENT' ? '--exr-dir not found' : `cannot read the directory (${code ?? (e as Error).message})`);
  }
  const exrs = entries.filter((f) => !f.startsWith('.') && extname(f).toLowerCase() === '.exr').sort();
  if (exrs.length === 0) throw fileError(dir, 'no .exr files');
  return exrs;
}

async function refuseFileOutput(out: string): Promise<void> {
  try {
    if (!(await stat(out)).isDirectory()) throw fileError(out, 'output path is a file');
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    // Missing: it is created with the first sample.
  }
}

export async function packBlenderCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('pack-blender', argv, {
    exr: { type: 'string' },
    'exr-dir': { type: 'string' },
    output: { type: 'string', short: 'o' },
    'view-layer': { type: 'string' },
    style: { type: 'string' },
  });
  if (helpAsked(values, io, PACK_BLENDER_HELP)) return 0;
  const exr = stringFlag(values, 'exr');
  const exrDir = stringFlag(values, 'exr-dir');
  const output = stringFlag(values, 'output');
  const viewLayer = stringFlag(values, 'view-layer');
  const style = pairFlag('pack-blender', values, 'style');
  if (exr !== undefined && exrDir !== undefined) throw new CnnV3Error('cnnv3 pack-blender: give --exr FILE or --exr-dir DIR, not both', 2);
  if (exr === undefined && exrDir === undefined) throw new CnnV3Error('cnnv3 pack-blender: --exr FILE or --exr-dir DIR is required (see cnnv3 pack-blender --help)', 2);
  if (output === undefined) throw new CnnV3Error('cnnv3 pack-blender: --output DIR is required', 2);
  const warn = (ws: string[]): void => ws.forEach((w) => io.stderr(`cnnv3: warning: ${w}\n`));

  if (exr !== undefined) {
    warn(await packBlenderFile(exr, output, viewLayer, style));
    io.stdout(`Packed ${exr} into ${output}\n`);
    return 0;
  }

  const exrs = await listExrs(exrDir!);
  await refuseFileOutput(output);
  const bar = new ProgressBar(io, 'pack-blender', exrs.length);
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const file of exrs) {
    const name = basename(file, extname(file));
    try {
      warnings.push(...(await packBlenderFile(join(exrDir!, file), join(output, `sample_${name}`), viewLayer, style)));
    } catch (e) {
      if (!isCnnV3Error(e)) throw e;
      failures.push(e.message);
    }
    bar.tick(file);
  }
  warn(warnings);
  const packed = exrs.length - failures.length;
  io.stdout(`Packed ${packed} of ${exrs.length} EXR files into ${output}\n`);
  if (failures.length > 0) {
    io.stderr(`Failed to pack ${failures.length}:\n${failures.map((f) => `  ${f}\n`).join('')}`);
    return 1;
  }
  return 0;
}
