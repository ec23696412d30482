// GBufferEffect's rasteriser (conventions in src/demo/gbuffer/gbuffer-effect.ts): a depth-only
// shadow pass from the directional light (vs_shadow), then the G-buffer pass (vs_main, fs_main)
// writing the three planes pack_features.wgsl reads: albedo_matid and normal_shadow_transp
// (rgba8unorm, each value already an exact byte k/255 as the sample's PNGs hold it) and depth
// (r32float, depth.png / 65535). Only when motion is asked for (the demo's --stability), a motion
// pass (vs_motion, fs_motion) of the same geometry writes the motion plane.

struct GBufferFrame {
  view_proj: mat4x4f,
  view: mat4x4f,
  light_view_proj: mat4x4f,
  // xyz: the direction the light travels (world).
  light_dir: vec4f,
  // x: normal offset of the shadow lookup (world units), y: depth bias (light clip z).
  shadow: vec4f,
}

struct GBufferObject {
  // Rigid draws: the node's world matrix and its inverse transpose. Skinned draws ignore both
  // (glTF: a skinned mesh follows its joints only).
  model: mat4x4f,
  normal_matrix: mat4x4f,
  // Linear RGBA (glTF baseColorFactor).
  base_color: vec4f,
  // rgb: linear emissiveFactor × KHR_materials_emissive_strength.
  emissive: vec4f,
  matid: f32,
  // 0 OPAQUE, 1 MASK, 2 BLEND.
  alpha_mode: u32,
  alpha_cutoff: f32,
  has_normals: u32,
  // KHR_materials_unlit: lit whatever the light.
  unlit: u32,
  // First of this draw's joint matrices in `joints` (skinned draws).
  joint_offset: u32,
  // The motion pass: `model` of the previous frame (written only when motion is on).
  prev_model: mat4x4f,
}

@group(0) @binding(0) var<uniform> frame: GBufferFrame;
@group(0) @binding(1) var shadow_map: texture_depth_2d;
@group(0) @binding(2) var shadow_sampler: sampler_comparison;
// Every skin's joint matrices this frame: world(joint) · inverse bind matrix.
@group(0) @binding(3) var<storage, read> joints: array<mat4x4f>;
@group(1) @binding(0) var<uniform> object: GBufferObject;
@group(2) @binding(0) var base_tex: texture_2d<f32>;
@group(2) @binding(1) var base_sampler: sampler;
@group(2) @binding(2) var emissive_tex: texture_2d<f32>;
@group(2) @binding(3) var emissive_sampler: sampler;

// glTF skinning: the weighted sum of the vertex's (up to four) joint matrices.
fn skin_matrix(j: vec4u, w: vec4f) -> mat4x4f {
  let o = object.joint_offset;
  return joints[o + j.x] * w.x + joints[o + j.y] * w.y + joints[o + j.z] * w.z + joints[o + j.w] * w.w;
}

// A normal through m: the cofactor matrix of m's 3×3 part (its inverse transpose × det), sign kept.
fn skin_normal(m: mat4x4f, n: vec3f) -> vec3f {
  let a = m[0].xyz;
  let b = m[1].xyz;
  let c = m[2].xyz;
  let det = dot(a, cross(b, c));
  return mat3x3f(cross(b, c), cross(c, a), cross(a, b)) * n * select(1.0, -1.0, det < 0.0);
}

@vertex
fn vs_shadow(@location(0) position: vec3f) -> @builtin(position) vec4f {
  return frame.light_view_proj * object.model * vec4f(position, 1.0);
}

@vertex
fn vs_shadow_skinned(@location(0) position: vec3f, @location(4) j: vec4u, @location(5) w: vec4f) -> @builtin(position) vec4f {
  return frame.light_view_proj * skin_matrix(j, w) * vec4f(position, 1.0);
}

struct GBufferVaryings {
  @builtin(position) clip: vec4f,
  @location(0) world: vec3f,
  @location(1) normal: vec3f,
  @location(2) uv: vec2f,
  @location(3) uv_emissive: vec2f,
}

fn varyings(world: vec4f, normal: vec3f, uv: vec2f, uv_emissive: vec2f) -> GBufferVaryings {
  var out: GBufferVaryings;
  out.clip = frame.view_proj * world;
  out.world = world.xyz;
  out.normal = normal;
  out.uv = uv;
  out.uv_emissive = uv_emissive;
  return out;
}

@vertex
fn vs_main(@location(0) position: vec3f, @location(1) normal: vec3f, @location(2) uv: vec2f, @location(3) uv_emissive: vec2f) -> GBufferVaryings {
  return varyings(object.model * vec4f(position, 1.0), (object.normal_matrix * vec4f(normal, 0.0)).xyz, uv, uv_emissive);
}

@vertex
fn vs_main_skinned(
  @location(0) position: vec3f,
  @location(1) normal: vec3f,
  @location(2) uv: vec2f,
  @location(3) uv_emissive: vec2f,
  @location(4) j: vec4u,
  @location(5) w: vec4f,
) -> GBufferVaryings {
  let m = skin_matrix(j, w);
  return varyings(m * vec4f(position, 1.0), skin_normal(m, normal), uv, uv_emissive);
}

struct GBufferTargets {
  @location(0) albedo_matid: vec4f,
  @location(1) normal_shadow_transp: vec4f,
  @location(2) depth: f32,
}

// JavaScript's Math.round for v ≥ 0 (WGSL's round() goes half to even).
fn round_half_up(v: f32) -> f32 {
  return floor(v + 0.5);
}

fn to_byte(v: f32) -> f32 {
  return round_half_up(clamp(v, 0.0, 1.0) * 255.0) / 255.0;
}

// The exact sRGB transfer function, as src/pack/blender.ts encodes DiffCol.
fn srgb_encode(v: vec3f) -> vec3f {
  let c = clamp(v, vec3f(0.0), vec3f(1.0));
  return select(1.055 * pow(c, vec3f(1.0 / 2.4)) - 0.055, 12.92 * c, c <= vec3f(0.0031308));
}

// SPEC §2 octahedral encoding, as bytes / 255.
fn oct_bytes(n: vec3f) -> vec2f {
  var p = n.xy / (abs(n.x) + abs(n.y) + abs(n.z));
  if (n.z < 0.0) {
    p = (1.0 - abs(p.yx)) * select(vec2f(-1.0), vec2f(1.0), p >= vec2f(0.0));
  }
  let q = clamp(p, vec2f(-1.0), vec2f(1.0)) * 0.5 + 0.5;
  return vec2f(to_byte(q.x), to_byte(q.y));
}

// SPEC §2 depth: round(65535 / (z + 1)), z ≥ 1e9 → 0, as depth.png / 65535.
fn depth_plane(z: f32) -> f32 {
  if (!(z < 1e9)) { return 0.0; }
  return clamp(round_half_up(65535.0 / (z + 1.0)), 0.0, 65535.0) / 65535.0;
}

@fragment
fn fs_main(in: GBufferVaryings, @builtin(front_facing) front: bool) -> GBufferTargets {
  // Sampled and differentiated before any discard (uniform control flow).
  let tex = textureSample(base_tex, base_sampler, in.uv);
  let emissive_texel = textureSample(emissive_tex, emissive_sampler, in.uv_emissive);
  // The face's normal turned towards the viewer (framebuffer y points down).
  let facing = normalize(cross(dpdy(in.world), dpdx(in.world)));

  let base = object.base_color * tex;
  var alpha = 1.0;
  if (object.alpha_mode == 1u) {
    if (base.a < object.alpha_cutoff) { discard; }
  } else if (object.alpha_mode == 2u) {
    alpha = clamp(base.a, 0.0, 1.0);
  }

  var n = facing;
  if (object.has_normals != 0u) {
    n = normalize(in.normal);
    if (!front) { n = -n; }
  }
  // Blender's world axes (Z up): glTF (x, y, z) is Blender (x, −z, y).
  let n_blender = vec3f(n.x, -n.z, n.y);

  var lit = 0.0;
  let to_light = -frame.light_dir.xyz;
  if (object.unlit != 0u) {
    lit = 1.0;
  } else if (dot(facing, to_light) > 0.0) {
    let p = frame.light_view_proj * vec4f(in.world + facing * frame.shadow.x, 1.0);
    let uv = p.xy * vec2f(0.5, -0.5) + 0.5;
    if (all(uv >= vec2f(0.0)) && all(uv <= vec2f(1.0)) && p.z <= 1.0) {
      lit = textureSampleCompareLevel(shadow_map, shadow_sampler, uv, p.z - frame.shadow.y);
    } else {
      lit = 1.0;
    }
  }

  // Emission (gbuffer-effect.ts, "emissive"): added to the albedo, and lights the surface as
  // much as its brightest channel glows.
  let emission = object.emissive.rgb * emissive_texel.rgb;
  lit = max(lit, clamp(max(emission.r, max(emission.g, emission.b)), 0.0, 1.0));

  let z = -(frame.view * vec4f(in.world, 1.0)).z;
  let albedo = srgb_encode(base.rgb + emission);
  var out: GBufferTargets;
  out.albedo_matid = vec4f(to_byte(albedo.r), to_byte(albedo.g), to_byte(albedo.b), object.matid / 255.0);
  out.normal_shadow_transp = vec4f(oct_bytes(n_blender), to_byte(lit), (255.0 - round_half_up(alpha * 255.0)) / 255.0);
  out.depth = depth_plane(z);
  return out;
}

// The motion pass: what a TAA velocity buffer holds, plus the depths the occlusion test needs.
// Every vertex is placed by this frame's and by the previous frame's camera, node transforms and
// joint palette; on a frame with no previous one (first, after a cut or seek, resized) the
// previous uniforms are this frame's, so the motion is exactly 0.
struct GBufferMotion {
  prev_view_proj: mat4x4f,
  prev_view: mat4x4f,
  // xy: the frame's size in pixels.
  viewport: vec4f,
}

@group(0) @binding(4) var<uniform> motion: GBufferMotion;
@group(0) @binding(5) var<storage, read> prev_joints: array<mat4x4f>;

fn prev_skin_matrix(j: vec4u, w: vec4f) -> mat4x4f {
  let o = object.joint_offset;
  return prev_joints[o + j.x] * w.x + prev_joints[o + j.y] * w.y + prev_joints[o + j.z] * w.z + prev_joints[o + j.w] * w.w;
}

struct MotionVaryings {
  @builtin(position) clip: vec4f,
  // Clip positions of the surface point now and in the previous frame: interpolated
  // perspective-correctly they are exact at every fragment, being affine in the vertex.
  @location(0) now: vec4f,
  @location(1) before: vec4f,
  @location(2) uv: vec2f,
  // x: view-space depth now, y: in the previous frame's camera (affine too).
  @location(3) view_z: vec2f,
}

fn motion_varyings(world: vec4f, prev_world: vec4f, uv: vec2f) -> MotionVaryings {
  var out: MotionVaryings;
  // The same expression as varyings(): the motion pass covers exactly the G-buffer's pixels.
  out.clip = frame.view_proj * world;
  out.now = out.clip;
  out.before = motion.prev_view_proj * prev_world;
  out.uv = uv;
  out.view_z = vec2f(-(frame.view * world).z, -(motion.prev_view * prev_world).z);
  return out;
}

@vertex
fn vs_motion(@location(0) position: vec3f, @location(2) uv: vec2f) -> MotionVaryings {
  let p = vec4f(position, 1.0);
  return motion_varyings(object.model * p, object.prev_model * p, uv);
}

@vertex
fn vs_motion_skinned(@location(0) position: vec3f, @location(2) uv: vec2f, @location(4) j: vec4u, @location(5) w: vec4f) -> MotionVaryings {
  let p = vec4f(position, 1.0);
  return motion_varyings(skin_matrix(j, w) * p, prev_skin_matrix(j, w) * p, uv);
}

// (dx, dy, z_prev, z): the displacement in pixels (x right, y down) from this pixel to where its
// surface point was in the previous frame; that point's view depth in the previous camera and
// its view depth now. The background keeps the clear value (0, 0, 0, 0). A point that was
// behind the previous camera has no previous position: (0, 0, 0, z), z_prev 0 marking it.
@fragment
fn fs_motion(in: MotionVaryings) -> @location(0) vec4f {
  // MASK cut-outs are cut out here too, or the plane would cover pixels the G-buffer does not.
  let tex = textureSample(base_tex, base_sampler, in.uv);
  if (object.alpha_mode == 1u && (object.base_color * tex).a < object.alpha_cutoff) { discard; }
  if (!(in.before.w > 0.0)) {
    return vec4f(0.0, 0.0, 0.0, in.view_z.x);
  }
  let d = (in.before.xy / in.before.w - in.now.xy / in.now.w) * vec2f(0.5, -0.5) * motion.viewport.xy;
  return vec4f(d, in.view_z.y, in.view_z.x);
}
