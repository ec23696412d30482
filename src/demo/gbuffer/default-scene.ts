/**
 * GBufferEffect's built-in scene, built procedurally as a glTF document (so it goes through the
 * very loader a file does, and can be written out as a .glb: `defaultSceneGlb()`).
 *
 * glTF axes (+Y up, metres). An 8 × 8 m grey ground at y = 0 and five objects, each with
 * `extras.matid` = its index:
 *   0 ground (0.5, 0.5, 0.5)            2 sphere r 0.6, green, bobbing up and down
 *   1 cube 1.1 m, red, turning about Y  3 torus R 0.55 r 0.2, blue, tumbling about X and Y
 *   4 sphere r 0.45, orange, alpha 0.5 (BLEND: transp 128 where it is in front)
 * A camera orbits the origin once every 16 s at 7 m, 3 m up, looking at (0, 0.5, 0); every
 * animation loops over those 16 s. The light is the default directional light of scene.ts.
 * Colours are linear base colour factors, as in glTF.
 */
import { Document, WebIO, type Accessor, type Buffer, type Node } from '@gltf-transform/core';
import { axisAngle, lookAtWorld, quatFromMatrix, type Quat, type Vec3 } from './math.js';

export const DEFAULT_SCENE_NAME = '(built-in scene)';
export const DEFAULT_SCENE_PERIOD_S = 16;

interface MeshData {
  positions: number[];
  normals: number[];
  uvs: number[];
  indices: number[];
}

/** Makes every triangle wind counter-clockwise seen from the side its vertex normals face. */
function orient(m: MeshData): MeshData {
  const p = m.positions;
  const n = m.normals;
  for (let t = 0; t + 2 < m.indices.length; t += 3) {
    const [a, b, c] = [m.indices[t]!, m.indices[t + 1]!, m.indices[t + 2]!];
    const e1 = [p[b * 3]! - p[a * 3]!, p[b * 3 + 1]! - p[a * 3 + 1]!, p[b * 3 + 2]! - p[a * 3 + 2]!];
    const e2 = [p[c * 3]! - p[a * 3]!, p[c * 3 + 1]! - p[a * 3 + 1]!, p[c * 3 + 2]! - p[a * 3 + 2]!];
    const g = [e1[1]! * e2[2]! - e1[2]! * e2[1]!, e1[2]! * e2[0]! - e1[0]! * e2[2]!, e1[0]! * e2[1]! - e1[1]! * e2[0]!];
    let d = 0;
    for (const v of [a, b, c]) d += g[0]! * n[v * 3]! + g[1]! * n[v * 3 + 1]! + g[2]! * n[v * 3 + 2]!;
    if (d < 0) {
      m.indices[t + 1] = c;
      m.indices[t + 2] = b;
    }
  }
  return m;
}

/** A square in the XZ plane facing +Y. */
export function planeMesh(size: number): MeshData {
  const h = size / 2;
  return orient({
    positions: [-h, 0, -h, h, 0, -h, h, 0, h, -h, 0, h],
    normals: [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0],
    uvs: [0, 0, 1, 0, 1, 1, 0, 1],
    indices: [0, 1, 2, 0, 2, 3],
  });
}

export function boxMesh(size: number): MeshData {
  const h = size / 2;
  const m: MeshData = { positions: [], normals: [], uvs: [], indices: [] };
  const faces: Array<[Vec3, Vec3, Vec3]> = [
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    [[-1, 0, 0], [0, 1, 0], [0, 0, 1]],
    [[0, 1, 0], [1, 0, 0], [0, 0, 1]],
    [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]],
    [[0, 0, -1], [1, 0, 0], [0, 1, 0]],
  ];
  for (const [n, u, v] of faces) {
    const base = m.positions.length / 3;
    for (const [su, sv] of [[-1, -1], [1, -1], [1, 1], [-1, 1]] as const) {
      for (let k = 0; k < 3; k++) m.positions.push((n[k]! + u[k]! * su + v[k]! * sv) * h);
      m.normals.push(...n);
      m.uvs.push((su + 1) / 2, (sv + 1) / 2);
    }
    m.indices.push(base, base + 1, base + 2, base, base + 2, base + 3);
  }
  return orient(m);
}

export function sphereMesh(r: number, segments = 32, rings = 16): MeshData {
  const m: MeshData = { positions: [], normals: [], uvs: [], indices: [] };
  for (let j = 0; j <= rings; j++) {
    const th = (j / rings) * Math.PI;
    for (let i = 0; i <= segments; i++) {
      const ph = (i / segments) * 2 * Math.PI;
      const n = [Math.sin(th) * Math.cos(ph), Math.cos(th), Math.sin(th) * Math.sin(ph)];
      m.positions.push(n[0]! * r, n[1]! * r, n[2]! * r);
      m.normals.push(...n);
      m.uvs.push(i / segments, j / rings);
    }
  }
  const row = segments + 1;
  for (let j = 0; j < rings; j++) {
    for (let i = 0; i < segments; i++) {
      const a = j * row + i;
      if (j > 0) m.indices.push(a, a + 1, a + row);
      if (j < rings - 1) m.indices.push(a + 1, a + row + 1, a + row);
    }
  }
  return orient(m);
}

/** A torus around the Y axis. */
export function torusMesh(R: number, r: number, segments = 32, sides = 12): MeshData {
  const m: MeshData = { positions: [], normals: [], uvs: [], indices: [] };
  for (let i = 0; i <= segments; i++) {
    const u = (i / segments) * 2 * Math.PI;
    for (let j = 0; j <= sides; j++) {
      const v = (j / sides) * 2 * Math.PI;
      const n = [Math.cos(v) * Math.cos(u), Math.sin(v), Math.cos(v) * Math.sin(u)];
      m.positions.push(R * Math.cos(u) + r * n[0]!, r * n[1]!, R * Math.sin(u) + r * n[2]!);
      m.normals.push(...n);
      m.uvs.push(i / segments, j / sides);
    }
  }
  const row = sides + 1;
  for (let i = 0; i < segments; i++) {
    for (let j = 0; j < sides; j++) {
      const a = i * row + j;
      m.indices.push(a, a + row, a + row + 1, a, a + row + 1, a + 1);
    }
  }
  return orient(m);
}

/** Adds a mesh node (with one primitive and material) to a document. */
export function addMeshNode(
  doc: Document,
  buffer: Buffer,
  name: string,
  mesh: MeshData,
  colour: [number, number, number, number],
  opts: { matid?: number; translation?: Vec3; alphaMode?: 'OPAQUE' | 'BLEND' | 'MASK'; doubleSided?: boolean } = {},
): Node {
  const acc = (type: 'VEC3' | 'VEC2' | 'SCALAR', array: Float32Array | Uint32Array): Accessor => doc.createAccessor(`${name} ${type}`).setType(type).setArray(array).setBuffer(buffer);
  const material = doc
    .createMaterial(`${name} material`)
    .setBaseColorFactor(colour)
    .setAlphaMode(opts.alphaMode ?? 'OPAQUE')
    .setDoubleSided(opts.doubleSided ?? false)
    .setMetallicFactor(0)
    .setRoughnessFactor(1);
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', acc('VEC3', Float32Array.from(mesh.positions)))
    .setAttribute('NORMAL', acc('VEC3', Float32Array.from(mesh.normals)))
    .setAttribute('TEXCOORD_0', acc('VEC2', Float32Array.from(mesh.uvs)))
    .setIndices(acc('SCALAR', Uint32Array.from(mesh.indices)))
    .setMaterial(material);
  const node = doc.createNode(name).setMesh(doc.createMesh(name).addPrimitive(prim));
  if (opts.translation) node.setTranslation(opts.translation);
  if (opts.matid !== undefined) node.setExtras({ matid: opts.matid });
  return node;
}

/** A looping animation channel on a node from keyframe times and values. */
function animate(doc: Document, buffer: Buffer, name: string, node: Node, path: 'translation' | 'rotation', times: number[], values: number[][]): void {
  const input = doc.createAccessor(`${name} times`).setType('SCALAR').setArray(Float32Array.from(times)).setBuffer(buffer);
  const output = doc
    .createAccessor(`${name} values`)
    .setType(path === 'rotation' ? 'VEC4' : 'VEC3')
    .setArray(Float32Array.from(values.flat()))
    .setBuffer(buffer);
  const sampler = doc.createAnimationSampler(name).setInput(input).setOutput(output).setInterpolation('LINEAR');
  const channel = doc.createAnimationChannel(name).setTargetNode(node).setTargetPath(path).setSampler(sampler);
  doc.createAnimation(name).addSampler(sampler).addChannel(channel);
}

/** Whole turns about an axis over the period, keyed every 1/8 turn (LINEAR slerp takes the short way). */
function spin(axis: Vec3, turns: number, base: Quat = [0, 0, 0, 1]): { times: number[]; values: number[][] } {
  const steps = 8 * Math.max(1, Math.abs(turns));
  const times: number[] = [];
  const values: number[][] = [];
  for (let i = 0; i <= steps; i++) {
    times.push((i / steps) * DEFAULT_SCENE_PERIOD_S);
    const q = axisAngle(axis, (i / steps) * turns * 2 * Math.PI);
    // q · base
    const [ax, ay, az, aw] = q;
    const [bx, by, bz, bw] = base;
    values.push([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz]);
  }
  return { times, values };
}

export function buildDefaultScene(): Document {
  const doc = new Document();
  const buffer = doc.createBuffer('geometry');
  const scene = doc.createScene('cnnv3 default');
  doc.getRoot().setDefaultScene(scene);

  scene.addChild(addMeshNode(doc, buffer, 'Ground', planeMesh(8), [0.5, 0.5, 0.5, 1], { matid: 0 }));
  const cube = addMeshNode(doc, buffer, 'Cube', boxMesh(1.1), [0.8, 0.05, 0.05, 1], { matid: 1, translation: [-1.5, 0.55, 0] });
  const sphere = addMeshNode(doc, buffer, 'Sphere', sphereMesh(0.6), [0.05, 0.6, 0.1, 1], { matid: 2, translation: [1.5, 0.6, 0.3] });
  const torus = addMeshNode(doc, buffer, 'Torus', torusMesh(0.55, 0.2), [0.1, 0.2, 0.8, 1], { matid: 3, translation: [0, 1.0, -1.6] });
  const glass = addMeshNode(doc, buffer, 'Glass', sphereMesh(0.45), [0.9, 0.45, 0.1, 0.5], { matid: 4, translation: [0.2, 0.45, 1.5], alphaMode: 'BLEND' });
  for (const n of [cube, sphere, torus, glass]) scene.addChild(n);

  const cubeSpin = spin([0, 1, 0], 1);
  animate(doc, buffer, 'cube turn', cube, 'rotation', cubeSpin.times, cubeSpin.values);
  const bobTimes = Array.from({ length: 17 }, (_, i) => i);
  animate(doc, buffer, 'sphere bob', sphere, 'translation', bobTimes, bobTimes.map((t) => [1.5, 0.6 + 0.4 * Math.abs(Math.sin((t / DEFAULT_SCENE_PERIOD_S) * 4 * Math.PI)), 0.3]));
  const tumble = spin([0, 1, 0], 2, axisAngle([1, 0, 0], Math.PI / 3));
  animate(doc, buffer, 'torus tumble', torus, 'rotation', tumble.times, tumble.values);

  const pivot = doc.createNode('Camera pivot');
  const eye: Vec3 = [0, 3, 7];
  const camNode = doc
    .createNode('Camera')
    .setTranslation(eye)
    .setRotation(quatFromMatrix(lookAtWorld(eye, [0, 0.5, 0], [0, 1, 0])))
    .setCamera(doc.createCamera('Camera').setType('perspective').setYFov((45 * Math.PI) / 180).setZNear(0.1).setZFar(100));
  pivot.addChild(camNode);
  scene.addChild(pivot);
  const orbit = spin([0, 1, 0], 1);
  animate(doc, buffer, 'camera orbit', pivot, 'rotation', orbit.times, orbit.values);
  return doc;
}

/** The built-in scene as a .glb file. */
export async function defaultSceneGlb(): Promise<Uint8Array> {
  // Writing touches no file or network, so the Web I/O class serves Node as well.
  return new WebIO().writeBinary(buildDefaultScene());
}
