// Shared by the general CNN passes (prepended after common.wgsl), which run any enc_channels the
// trainer accepts. Their intermediates are rgba16float texture arrays: channel c of a node is
// component c % 4 of layer c / 4, zero past the node's channels, so every stored activation is
// an f16 exactly as the fast path's nodes store it.
//
// Each thread computes the four output channels 4g..4g+3 (g = workgroup_id.z) of one pixel of
// out_tex. The pass's own file declares what the convolution below needs:
//   K (3 or 1) and OUT: kernel size and the layer's output channels;
//   IN_A and IN_B: its input channels, IN_A in layers 0..G_A−1 and then, for an input
//     cat(a, b), IN_B in the layers after them (each part padded to whole layers; IN_B = 0 for a
//     single input), so the layer has IN = IN_A + IN_B inputs (its weights are OUT·IN·K·K
//     halves, SPEC §6);
//   fetch(q, layer): four padded input channels at position q (q inside the node);
//   out_tex (storage texture, the output node) and store(p, g, acc): writes the output at p from
//     conv + bias (acc) of group g.

@group(0) @binding(1) var<storage, read> film: array<vec4f>;

// The layer's offset in `weights` (halves) and of its γ/β in `film` (vec4s: G_OUT of γ, then
// G_OUT of β), set from the parameter table by CNNv3Effect.
override WEIGHT_BASE: u32;
override FILM_BASE: u32;

const NO_CHANNEL: u32 = 0xffffffffu;
const TAPS: u32 = K * K;
override IN: u32 = IN_A + IN_B;
override G_A: u32 = (IN_A + 3u) / 4u;
override IN_LAYERS: u32 = G_A + (IN_B + 3u) / 4u;
override G_OUT: u32 = (OUT + 3u) / 4u;
// Every general pass runs @workgroup_size(8, 8).
const WIDE_THREADS: u32 = 64u;
// Weights are staged in workgroup memory a few input layers at a time: a whole 128-input layer
// (dec1 or dec0 at width 64) would take 18 KiB, over WebGPU's default 16 KiB.
const CHUNK_LAYERS: u32 = 4u;
const CHUNK_CHANNELS: u32 = 4u * CHUNK_LAYERS;
// [tap][padded input channel of the chunk] → vec4 over the group's four outputs.
var<workgroup> chunk_w: array<vec4a, 9u * CHUNK_CHANNELS>;

// The weight's input index of padded input channel c, NO_CHANNEL for padding.
fn in_channel(c: u32) -> u32 {
  let a = 4u * G_A;
  if (c < a) { return select(NO_CHANNEL, c, c < IN_A); }
  return select(NO_CHANNEL, IN_A + c - a, c - a < IN_B);
}

fn wide_bias(g: u32) -> vec4a {
  var b = vec4a(0.0);
  for (var j = 0u; j < 4u; j++) {
    let co = 4u * g + j;
    if (co < OUT) { b[j] = act(get_w(WEIGHT_BASE, OUT * IN * TAPS + co)); }
  }
  return b;
}

// conv(input)[4g..4g+3] + bias at p. Every thread of the workgroup must call it (barriers);
// threads outside the node (`live` false) only help stage the weights.
fn wide_conv(p: vec2i, size: vec2i, live: bool, g: u32, li: u32) -> vec4a {
  var acc = wide_bias(g);
  let r = i32(K / 2u);
  for (var l0 = 0u; l0 < IN_LAYERS; l0 += CHUNK_LAYERS) {
    workgroupBarrier();
    for (var k = li; k < TAPS * CHUNK_CHANNELS; k += WIDE_THREADS) {
      let tap = k / CHUNK_CHANNELS;
      let ci = in_channel(4u * l0 + k % CHUNK_CHANNELS);
      var v = vec4a(0.0);
      if (ci != NO_CHANNEL) {
        for (var j = 0u; j < 4u; j++) {
          let co = 4u * g + j;
          if (co < OUT) { v[j] = act(get_w(WEIGHT_BASE, (co * IN + ci) * TAPS + tap)); }
        }
      }
      chunk_w[k] = v;
    }
    workgroupBarrier();
    if (live) {
      let layers = min(CHUNK_LAYERS, IN_LAYERS - l0);
      for (var tap = 0u; tap < TAPS; tap++) {
        let q = p + vec2i(i32(tap % K) - r, i32(tap / K) - r);
        if (!inside(q, size)) { continue; }
        for (var l = 0u; l < layers; l++) {
          let x = fetch(q, l0 + l);
          let i = tap * CHUNK_CHANNELS + 4u * l;
          acc += chunk_w[i] * x.x + chunk_w[i + 1u] * x.y + chunk_w[i + 2u] * x.z + chunk_w[i + 3u] * x.w;
        }
      }
    }
  }
  return acc;
}

// γ and β of the group's four channels (both 0 past OUT, so padding stays 0).
fn wide_gamma(g: u32) -> vec4f {
  return film[FILM_BASE + g];
}

fn wide_beta(g: u32) -> vec4f {
  return film[FILM_BASE + G_OUT + g];
}

// The mean of the up to four texels of a 2×2 block of `layer` (avgpool; a block cut by the edge
// averages what it has), read by the passes that pool their input.
fn pooled(tex: texture_2d_array<f32>, q: vec2i, layer: u32) -> vec4a {
  let full = vec2i(textureDimensions(tex));
  var s = vec4a(0.0);
  var n: act = 0.0;
  for (var dy = 0; dy < 2; dy++) {
    for (var dx = 0; dx < 2; dx++) {
      let e = 2 * q + vec2i(dx, dy);
      if (inside(e, full)) { s += vec4a(textureLoad(tex, e, layer, 0)); n += 1.0; }
    }
  }
  return s / n;
}

// fetch() of the decoder passes, whose input is cat(up(a), b): a's layers at half resolution,
// nearest-upsampled, then b's.
fn fetch_up_cat(a: texture_2d_array<f32>, b: texture_2d_array<f32>, q: vec2i, layer: u32) -> vec4a {
  if (layer < G_A) { return vec4a(textureLoad(a, q / 2, layer, 0)); }
  return vec4a(textureLoad(b, q, layer - G_A, 0));
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  let live = inside(p, size);
  let acc = wide_conv(p, size, live, wid.z, li);
  if (live) { store(p, wid.z, acc); }
}
