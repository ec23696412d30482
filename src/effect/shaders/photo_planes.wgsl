// Simple mode on the GPU (SPEC §2): a photo texture → the planes pack_features reads, with the
// neutral values of a photo sample: albedo = the photo's colour, matid 0, normal (128, 128),
// shadow 255 (lit), transp = 255 − alpha. The rgba8unorm targets round to bytes as a PNG would.

@group(0) @binding(0) var photo: texture_2d<f32>;
@group(0) @binding(1) var albedo_matid: texture_storage_2d<rgba8unorm, write>;
@group(0) @binding(2) var normal_shadow_transp: texture_storage_2d<rgba8unorm, write>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let size = textureDimensions(photo);
  if (any(gid.xy >= size)) { return; }
  let c = textureLoad(photo, gid.xy, 0);
  textureStore(albedo_matid, gid.xy, vec4f(c.rgb, 0.0));
  textureStore(normal_shadow_transp, gid.xy, vec4f(128.0 / 255.0, 128.0 / 255.0, 1.0, 1.0 - c.a));
}
