"""Builds the example scene of cnn-v3's Blender model (README, "Example models").

Run inside Blender (3.4 … 4.x):

    blender -b --factory-startup -P blender/make_example_scene.py -- --output scene.blend [--glb scene.glb]

A table-top of simple solids on a large grey ground, lit by a low sun (long shadows) and a
dim sky, seen by a camera that circles the centre once over the frames while looking down at
it, so no frame shows the sky. Every surface is a single colour (a glTF export keeps it
exactly, and the demo's GBufferEffect can rasterise the same scene: `--glb` writes it, with
each object's pass index as the glTF extra `matid`). What the network has to learn is what
Cycles adds to the albedo: diffuse shading, the sun's shadows, sky light, bounce light and a
little gloss.
"""
import argparse
import math
import os
import sys

import bpy


def parse_args():
    argv = sys.argv
    if "--" not in argv:
        sys.stderr.write("make_example_scene.py: put the script's options after '--', e.g.\n"
                         "  blender -b --factory-startup -P make_example_scene.py -- --output scene.blend\n")
        sys.exit(2)
    parser = argparse.ArgumentParser(prog="make_example_scene.py", description="Build the cnn-v3 example scene.")
    parser.add_argument("--output", required=True, help="where to save the .blend")
    parser.add_argument("--glb", help="also export the scene as binary glTF here")
    parser.add_argument("--frames", type=int, default=48, help="frames in one camera orbit (default 48)")
    return parser.parse_args(argv[argv.index("--") + 1:])


# name, kind, location, size, base colour (linear), roughness, pass index
OBJECTS = [
    ("RedCube", "cube", (-1.6, -0.8, 0.6), 1.2, (0.75, 0.06, 0.05), 0.6, 1),
    ("GreenCube", "cube", (1.5, 1.3, 0.45), 0.9, (0.08, 0.55, 0.12), 0.6, 2),
    ("BlueBall", "sphere", (0.2, -1.7, 0.7), 0.7, (0.08, 0.2, 0.75), 0.35, 3),
    ("GoldBall", "sphere", (-0.4, 1.6, 0.5), 0.5, (0.8, 0.55, 0.1), 0.25, 4),
    ("WhiteCylinder", "cylinder", (1.8, -1.2, 0.8), (0.45, 1.6), (0.8, 0.8, 0.78), 0.5, 5),
    ("PurpleCone", "cone", (-2.2, 1.4, 0.75), (0.6, 1.5), (0.4, 0.1, 0.55), 0.6, 6),
    ("TealTorus", "torus", (0.3, 0.3, 0.25), (0.8, 0.25), (0.05, 0.5, 0.5), 0.4, 7),
    ("OrangeSlab", "cube", (2.6, 0.2, 0.15), (0.8, 1.8, 0.3), (0.9, 0.3, 0.05), 0.7, 8),
]
GROUND = ((0.45, 0.45, 0.42), 0.8)


def material(name, rgb, roughness):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes.get("Principled BSDF")
    bsdf.inputs["Base Color"].default_value = (rgb[0], rgb[1], rgb[2], 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    mat.diffuse_color = (rgb[0], rgb[1], rgb[2], 1.0)
    return mat


def add(name, kind, location, size, rgb, roughness, index):
    if kind == "cube":
        bpy.ops.mesh.primitive_cube_add(size=1.0, location=location)
        s = size if isinstance(size, tuple) else (size, size, size)
        bpy.context.active_object.scale = s
    elif kind == "sphere":
        bpy.ops.mesh.primitive_uv_sphere_add(radius=size, location=location, segments=48, ring_count=24)
        bpy.ops.object.shade_smooth()
    elif kind == "cylinder":
        bpy.ops.mesh.primitive_cylinder_add(radius=size[0], depth=size[1], location=location, vertices=48)
    elif kind == "cone":
        bpy.ops.mesh.primitive_cone_add(radius1=size[0], depth=size[1], location=location, vertices=48)
    elif kind == "torus":
        bpy.ops.mesh.primitive_torus_add(major_radius=size[0], minor_radius=size[1], location=location,
                                         major_segments=64, minor_segments=24)
        bpy.ops.object.shade_smooth()
    else:
        bpy.ops.mesh.primitive_plane_add(size=size, location=location)
    obj = bpy.context.active_object
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    obj.name = name
    obj.pass_index = index
    obj["matid"] = index  # exported as the glTF node extra the demo's GBufferEffect reads
    obj.data.materials.append(material(name + "Mat", rgb, roughness))
    return obj


def main():
    args = parse_args()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.frame_start = 1
    scene.frame_end = args.frames
    # 6 fps: one orbit of 36 frames lasts 6 s in the exported glTF animation, a calm pace for the
    # demo (rendered frames do not depend on it).
    scene.render.fps = 6
    scene.render.film_transparent = False
    scene.render.resolution_x = 256
    scene.render.resolution_y = 144
    scene.render.resolution_percentage = 100

    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    bg.inputs["Color"].default_value = (0.35, 0.45, 0.6, 1.0)
    bg.inputs["Strength"].default_value = 0.4
    scene.world = world

    add("Ground", "plane", (0.0, 0.0, 0.0), 60.0, GROUND[0], GROUND[1], 0)
    for spec in OBJECTS:
        add(*spec)

    # The camera rides on a pivot that turns once around +Z over the frames, linearly.
    pivot = bpy.data.objects.new("CameraPivot", None)
    scene.collection.objects.link(pivot)
    cam_data = bpy.data.cameras.new("Camera")
    cam_data.lens = 35.0
    cam_data.sensor_width = 36.0
    cam_data.clip_end = 200.0
    cam = bpy.data.objects.new("Camera", cam_data)
    cam.parent = pivot
    cam.location = (0.0, -7.5, 5.5)
    cam.rotation_euler = (math.radians(52.0), 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    pivot.rotation_euler = (0.0, 0.0, 0.0)
    pivot.keyframe_insert(data_path="rotation_euler", index=2, frame=1)
    pivot.rotation_euler = (0.0, 0.0, 2.0 * math.pi * args.frames / (args.frames + 1))
    pivot.keyframe_insert(data_path="rotation_euler", index=2, frame=args.frames)
    for fcurve in pivot.animation_data.action.fcurves:
        for key in fcurve.keyframe_points:
            key.interpolation = "LINEAR"

    sun_data = bpy.data.lights.new("Sun", type="SUN")
    sun_data.energy = 4.0
    sun_data.angle = math.radians(2.0)
    sun = bpy.data.objects.new("Sun", sun_data)
    sun.location = (0.0, 0.0, 20.0)
    sun.rotation_euler = (math.radians(55.0), 0.0, math.radians(35.0))
    scene.collection.objects.link(sun)

    out = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=out, check_existing=False)
    sys.stderr.write("make_example_scene.py: saved %s\n" % out)
    if args.glb:
        glb = os.path.abspath(args.glb)
        os.makedirs(os.path.dirname(glb) or ".", exist_ok=True)
        bpy.ops.export_scene.gltf(filepath=glb, export_format="GLB", export_extras=True, export_cameras=True,
                                  export_lights=True, export_apply=True, export_animations=True)
        sys.stderr.write("make_example_scene.py: exported %s\n" % glb)


main()
