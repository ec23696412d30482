// .seq parameter tracks: constants, keyframes, linear and smooth easing, and bad tracks named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTrack, trackAt } from '../src/demo/keyframes.js';
import { parseSeq } from '../src/demo/seq.js';

test('a constant holds; keyframes hold before the first and after the last, and move between', () => {
  assert.equal(trackAt(parseTrack('style_p0', '0.3'), 12), 0.3);
  const k = parseTrack('style_p0', '1:0,3:1,4:0.5');
  assert.equal(trackAt(k, 0), 0);
  assert.equal(trackAt(k, 1), 0);
  assert.equal(trackAt(k, 2), 0.5);
  assert.equal(trackAt(k, 2.5), 0.75);
  assert.equal(trackAt(k, 3.5), 0.75);
  assert.equal(trackAt(k, 9), 0.5);
  // smoothstep: same ends, slower at them, 0.5 at the middle.
  assert.equal(trackAt(k, 2, 'smooth'), 0.5);
  assert.ok(trackAt(k, 1.5, 'smooth') < trackAt(k, 1.5, 'linear'));
  assert.equal(trackAt(k, 3, 'smooth'), 1);
});

test('bad tracks: one message naming the key and the problem', () => {
  assert.throws(() => parseTrack('strength', '1.5'), /strength=1\.5 is outside \[0, 1\]/);
  assert.throws(() => parseTrack('style_p0', '2:0,1:1'), /keyframe times must increase \(2 then 1\)/);
  assert.throws(() => parseTrack('style_p1', '0:x'), /value "x" is not a number/);
  assert.throws(() => parseTrack('style_p1', '0:1:2'), /"0:1:2" is not time:value/);
});

test('.seq: CNNv3Effect takes keyframed style_p0/style_p1/strength and ease; bad ones are file:line errors', () => {
  const ok = parseSeq('SEQUENCE 0 0 "s"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 4 image=a.png\nEFFECT + CNNv3Effect f0 f1 -> sink 0 4 style_p0=0:1,4:0 style_p1=0:0,4:1 strength=0.25 ease=smooth\n', 'demo.seq');
  const e = ok.sequences[0]!.effects[1]!;
  assert.equal(e.params['style_p0'], '0:1,4:0');
  assert.equal(e.params['ease'], 'smooth');
  assert.throws(() => parseSeq('SEQUENCE 0 0 "s"\nEFFECT + CNNv3Effect f0 f1 -> sink 0 4 ease=bouncy\n', 'demo.seq'), /demo\.seq:2: .*ease=bouncy: must be one of linear, smooth/);
  assert.throws(() => parseSeq('SEQUENCE 0 0 "s"\nEFFECT + CNNv3Effect f0 f1 -> sink 0 4 strength=0:0,0:1\n', 'demo.seq'), /demo\.seq:2: .*keyframe times must increase/);
});
