"""Builds the small test scene the cnn-v3 Blender route is checked against.

Run inside Blender (3.4 … 5.x):

    blender -b --factory-startup -P blender/make_test_scene.py -- --output scene.blend

The scene (all numbers are what test/blender-e2e.test.ts checks against):

* Camera at (0, 0, 10) looking straight down (−Z), perspective, 50 mm lens, 36 mm sensor.
  World +Z therefore faces the camera: a horizontal face has the world normal (0, 0, 1),
  octahedral (128, 128).
  At 64 × 48 one pixel at distance d spans d · 0.72 / 64 m.
* "Ground": a 6 × 4 m plane at z = 0 (camera distance 10), diffuse grey (0.5, 0.5, 0.5),
  object index 0. It does not fill the frame: a margin of ≥ 5 pixels all round shows the
  world, which the film renders transparent (alpha 0), so transp.png is 255 there.
* "Near": a 1.2 m cube centred at (−1.2, 0, 3.4) (top face at z = 4, distance 6), diffuse
  red (0.8, 0.05, 0.05), object index 1.
* "Mid": a 1.2 m cube centred at (1.4, 0, 2.4) (top face at z = 3, distance 7), diffuse
  green (0.05, 0.6, 0.1), object index 2. It slides from y = 0 (frame 1) to y = 0.6
  (frame 2).
* "Ball": a smooth UV sphere of radius 0.6 at (0, 0, 0.6), diffuse blue (0.1, 0.2, 0.8),
  object index 3.
* A sun light from above with a small tilt; Cycles; frames 1–2; film transparent; 64 × 48.
* ``--camera-pan DX DY``: the camera moves linearly by (DX, DY) m a frame (frames 1–``--frames``);
  at 64 px wide a point at distance d then shifts by DX / (d · 0.72 / 64) pixels left, and
  DY / (d · 0.72 / 64) down. ``--motion-blur`` turns the render's motion blur on.
"""
import argparse
import math
import os
import sys

import bpy


def parse_args():
    argv = sys.argv
    if "--" not in argv:
        sys.stderr.write("make_test_scene.py: put the script's options after '--', e.g.\n"
                         "  blender -b --factory-startup -P make_test_scene.py -- --output scene.blend\n")
        sys.exit(2)
    parser = argparse.ArgumentParser(prog="make_test_scene.py", description="Build the cnn-v3 test scene.")
    parser.add_argument("--output", required=True, help="where to save the .blend")
    parser.add_argument("--camera-pan", type=float, nargs=2, default=None, metavar=("DX", "DY"),
                        help="move the camera by (DX, DY) metres from frame 1 to frame 2 (and on, linearly)")
    parser.add_argument("--frames", type=int, default=2, help="last frame (default 2)")
    parser.add_argument("--motion-blur", action="store_true", help="turn the render's motion blur on")
    return parser.parse_args(argv[argv.index("--") + 1:])


# Known content of the scene (kept in one place; the e2e test mirrors these numbers).
CAMERA_Z = 10.0
OBJECTS = [
    # name, kind, location, size, base colour (linear), pass_index
    ("Near", "cube", (-1.2, 0.0, 3.4), 1.2, (0.8, 0.05, 0.05), 1),
    ("Mid", "cube", (1.4, 0.0, 2.4), 1.2, (0.05, 0.6, 0.1), 2),
    ("Ball", "sphere", (0.0, 0.0, 0.6), 0.6, (0.1, 0.2, 0.8), 3),
]
GROUND_COLOUR = (0.5, 0.5, 0.5)


def diffuse_material(name, rgb):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.clear()
    bsdf = nodes.new("ShaderNodeBsdfDiffuse")
    bsdf.inputs["Color"].default_value = (rgb[0], rgb[1], rgb[2], 1.0)
    out = nodes.new("ShaderNodeOutputMaterial")
    mat.node_tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    mat.diffuse_color = (rgb[0], rgb[1], rgb[2], 1.0)
    return mat


def add_object(name, kind, location, size, rgb, index):
    if kind == "cube":
        bpy.ops.mesh.primitive_cube_add(size=size, location=location)
    elif kind == "sphere":
        bpy.ops.mesh.primitive_uv_sphere_add(radius=size, location=location, segments=48, ring_count=24)
        bpy.ops.object.shade_smooth()
    else:
        bpy.ops.mesh.primitive_plane_add(size=1.0, location=location)
        bpy.context.active_object.scale = (size[0], size[1], 1.0)
        bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    obj = bpy.context.active_object
    obj.name = name
    obj.pass_index = index
    obj.data.materials.append(diffuse_material(name + "Mat", rgb))
    return obj


def main():
    args = parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.frame_start = 1
    scene.frame_end = args.frames
    scene.render.use_motion_blur = args.motion_blur
    scene.render.film_transparent = True
    scene.render.resolution_x = 64
    scene.render.resolution_y = 48
    scene.render.resolution_percentage = 100

    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    if bg is not None:
        bg.inputs["Color"].default_value = (0.05, 0.05, 0.05, 1.0)
    scene.world = world

    add_object("Ground", "plane", (0.0, 0.0, 0.0), (6.0, 4.0), GROUND_COLOUR, 0)
    moving = None
    for name, kind, loc, size, rgb, index in OBJECTS:
        obj = add_object(name, kind, loc, size, rgb, index)
        if name == "Mid":
            moving = obj

    # Animate: the green cube slides along +y between frame 1 and frame 2.
    moving.keyframe_insert(data_path="location", frame=1)
    moving.location.y += 0.6
    moving.keyframe_insert(data_path="location", frame=2)

    cam_data = bpy.data.cameras.new("Camera")
    cam_data.lens = 50.0
    cam_data.sensor_width = 36.0
    cam_data.clip_end = 1000.0
    cam = bpy.data.objects.new("Camera", cam_data)
    cam.location = (0.0, 0.0, CAMERA_Z)
    cam.rotation_euler = (0.0, 0.0, 0.0)  # looks down −Z
    scene.collection.objects.link(cam)
    scene.camera = cam
    if args.camera_pan is not None:
        # A linear pan: the camera moves by the same step every frame, so every frame pair has
        # one known image-space shift per depth (the Vector pass's test).
        cam.keyframe_insert(data_path="location", frame=1)
        cam.location = (args.camera_pan[0], args.camera_pan[1], CAMERA_Z)
        cam.keyframe_insert(data_path="location", frame=2)
        for fcurve in cam.animation_data.action.fcurves:
            for key in fcurve.keyframe_points:
                key.interpolation = "LINEAR"
            fcurve.extrapolation = "LINEAR"

    sun_data = bpy.data.lights.new("Sun", type="SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("Sun", sun_data)
    sun.location = (0.0, 0.0, 20.0)
    sun.rotation_euler = (math.radians(20.0), math.radians(10.0), 0.0)
    scene.collection.objects.link(sun)

    out = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=out, check_existing=False)
    sys.stderr.write("make_test_scene.py: saved %s\n" % out)


main()
