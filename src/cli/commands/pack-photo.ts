import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { CnnV3Error, fileError, isCnnV3Error } from '../../errors.js';
import { packPhotoFile } from '../../pack/photo-node.js';
import { helpAsked, pairFlag, parseFlags, stringFlag, valueFlags } from '../args.js';
import type { CliIO } from '../io.js';
import { ProgressBar } from '../progress.js';

export const PACK_PHOTO_HELP = `Usage:
  cnnv3 pack-photo --photo P [--target T] --output DIR [--style P0,P1]
  cnnv3 pack-photo P T DIR [--style P0,P1]
  cnnv3 pack-photo --photos DIR [--targets DIR] --output DIR [--style P0,P1]

Packs a photo (PNG or JPEG) into a sample directory of seven PNGs (playbook §1a): the photo
as albedo, neutral geometry, transp = 255 − alpha, and the stylised target (a copy of the
photo when no target is given). Batch mode pairs photos/NAME.(png|jpg|jpeg) with
targets/NAME.png or targets/NAME_styled.png and writes DIR/sample_NAME/ for each pair.
--style P0,P1 (each in [0, 1]) writes style.json: training then conditions these samples on
style_p0 = P0, style_p1 = P1, so samples of several styles train one model whose style inputs
pick the look (e.g. DATA/grade with 1,0 and DATA/sepia with 0,1, trained with --input DATA).
`;

const PHOTO_EXT = new Set(['.png', '.jpg', '.jpeg']);

interface Pair {
  name: string;
  photo: string;
  target?: string;
}

async function listDir(dir: string, what: string): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory()) throw fileError(dir, `${what} is not a directory`);
    return (await readdir(dir)).sort();
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    throw fileError(dir, `${what} not found`);
  }
}

async function matchPairs(photosDir: string, targetsDir: string | undefined): Promise<{ pairs: Pair[]; unmatched: string[] }> {
  const photos = (await listDir(photosDir, '--photos')).filter((f) => PHOTO_EXT.has(extname(f).toLowerCase()));
  if (photos.length === 0) throw fileError(photosDir, 'no photos (.png, .jpg, .jpeg) in this directory');
  const targets = targetsDir === undefined ? undefined : new Set(await listDir(targetsDir, '--targets'));
  const pairs: Pair[] = [];
  const unmatched: string[] = [];
  const seen = new Map<string, string>();
  for (const file of photos) {
    const name = basename(file, extname(file));
    const clash = seen.get(name);
    if (clash !== undefined) {
      unmatched.push(`${file} (same name as ${clash})`);
      continue;
    }
    seen.set(name, file);
    if (targets === undefined) {
      pairs.push({ name, photo: join(photosDir, file) });
      continue;
    }
    const candidates = [`${name}.png`, `${name}_styled.png`];
    const hit = candidates.find((c) => targets.has(c));
    if (hit === undefined) unmatched.push(`${file} (no ${candidates.join(' or ')} in ${targetsDir})`);
    else pairs.push({ name, photo: join(photosDir, file), target: join(targetsDir!, hit) });
  }
  return { pairs, unmatched };
}

export async function packPhotoCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    'pack-photo',
    argv,
    {
      photo: { type: 'string' },
      target: { type: 'string' },
      output: { type: 'string', short: 'o' },
      ...valueFlags('photos', 'targets', 'style'),
    },
    true,
  );
  if (helpAsked(values, io, PACK_PHOTO_HELP)) return 0;
  const output = stringFlag(values, 'output');
  const photosDir = stringFlag(values, 'photos');
  const style = pairFlag('pack-photo', values, 'style');

  if (photosDir !== undefined) {
    if (positionals.length > 0 || values['photo'] !== undefined || values['target'] !== undefined) {
      throw new CnnV3Error('cnnv3 pack-photo: --photos (batch) cannot be combined with --photo, --target or positional arguments', 2);
    }
    if (output === undefined) throw new CnnV3Error('cnnv3 pack-photo: --output DIR is required', 2);
    const { pairs, unmatched } = await matchPairs(photosDir, stringFlag(values, 'targets'));
    const bar = new ProgressBar(io, 'pack-photo', pairs.length);
    const failures: string[] = [];
    for (const pair of pairs) {
      try {
        await packPhotoFile(pair.photo, pair.target, join(output, `sample_${pair.name}`), style);
      } catch (e) {
        if (!isCnnV3Error(e)) throw e;
        failures.push(e.message);
      }
      bar.tick(pair.name);
    }
    const packed = pairs.length - failures.length;
    io.stdout(`Packed ${packed} of ${pairs.length + unmatched.length} photos into ${output}\n`);
    if (unmatched.length > 0) io.stderr(`Could not match ${unmatched.length} photos:\n${unmatched.map((u) => `  ${u}\n`).join('')}`);
    if (failures.length > 0) {
      io.stderr(`Failed to pack ${failures.length}:\n${failures.map((f) => `  ${f}\n`).join('')}`);
      return 1;
    }
    return packed > 0 ? 0 : 1;
  }

  if (values['targets'] !== undefined) throw new CnnV3Error('cnnv3 pack-photo: --targets needs --photos DIR', 2);
  let photo = stringFlag(values, 'photo');
  let target = stringFlag(values, 'target');
  let out = output;
  if (positionals.length > 0) {
    if (positionals.length !== 3 || photo !== undefined || target !== undefined || out !== undefined) {
      throw new CnnV3Error('cnnv3 pack-photo: the positional form takes exactly PHOTO TARGET DIR (see cnnv3 pack-photo --help)', 2);
    }
    [photo, target, out] = positionals as [string, string, string];
  }
  if (photo === undefined) throw new CnnV3Error('cnnv3 pack-photo: --photo P (or --photos DIR) is required', 2);
  if (out === undefined) throw new CnnV3Error('cnnv3 pack-photo: --output DIR is required', 2);
  await packPhotoFile(photo, target, out, style);
  io.stdout(`Packed ${photo}${target ? ` with target ${target}` : ' (target = copy of the photo)'} into ${out}${style ? ` (style ${style.join(',')})` : ''}\n`);
  return 0;
}
