// dec1: d1 = relu(FiLM(conv3x3(cat(up(b), e1), 2·C1→C0), γ2, β2)), ½ resolution → rgba16float.
override C0: u32 = 4u;
override C1: u32 = 8u;

@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var bottleneck_tex: texture_2d<u32>;
@group(0) @binding(3) var enc1_tex: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba16float, write>;

override IN: u32 = 2u * C1;
override OUT: u32 = C0;
// Weights staged as [tap][ci over the 2·C1 cat channels].
const STRIDE: u32 = 16u;
const EXTRA: u32 = 0u;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  if (!inside(p, size)) { return; }
  var acc = vec4a(w[BIAS]);
  for (var ky = 0; ky < 3; ky++) {
    for (var kx = 0; kx < 3; kx++) {
      let q = p + vec2i(kx - 1, ky - 1);
      if (!inside(q, size)) { continue; }
      let up = unpack8(textureLoad(bottleneck_tex, q / 2, 0));
      let skip = unpack8(textureLoad(enc1_tex, q, 0));
      let tap = u32(ky * 3 + kx) * STRIDE;
      for (var ci = 0u; ci < C1; ci++) {
        acc += vec4a(w[tap + ci]) * up[ci / 4u][ci % 4u];
        acc += vec4a(w[tap + C1 + ci]) * skip[ci / 4u][ci % 4u];
      }
    }
  }
  textureStore(out_tex, p, vec4f(film_relu(acc, params.gamma, params.beta)));
}
