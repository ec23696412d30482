"""Builds the small scene that checks pack-blender's shadow rule on saturated colours.

Run inside Blender (3.4 … 5.x):

    blender -b --factory-startup -P blender/make_shadow_scene.py -- --output shadow.blend

Cycles' Shadow pass is a per-channel ratio (lit / unoccluded light); in a channel that a
surface does not reflect at all both are 0 and Cycles writes 0. A pure red wall therefore
has Shadow = (1, 0, 0) where it is lit. The scene (test/blender-e2e.test.ts checks it):

* Camera at (0, 0, 10) looking straight down (−Z), 50 mm lens on a 36 mm sensor, 64 × 48:
  the frame at distance 10 is 7.2 m wide.
* "RedWall": a 3 × 4 m plane at z = 0 spanning x in [−3, 0], diffuse pure red (1, 0, 0),
  object index 1. "BlueWall": the same at x in [0, 3], pure blue (0, 0, 1), object index 2.
  Both face the camera. They fill the frame apart from a margin of film (transparent).
* "Blocker": a 1.2 m grey cube centred at (0, 0, 2), object index 3, straddling the seam
  between the walls.
* A sun tilted 35° about +x, so its light runs towards +y and down: the cube's shadow on the
  walls is shifted by 2 · tan 35° = 1.4 m along +y from the cube, to about x in [−0.6, 0.6],
  y in [0.8, 2.0] (the cube's bottom face at z = 1.4 casts it a little larger and shifted
  less: y from 0.4), half on the red wall and half on the blue one. The world is black, so
  nothing but the sun lights the walls, and a hard sun (angle 0) keeps the edges sharp.
"""
import argparse
import math
import os
import sys

import bpy


def parse_args():
    argv = sys.argv
    if "--" not in argv:
        sys.stderr.write("make_shadow_scene.py: put the script's options after '--', e.g.\n"
                         "  blender -b --factory-startup -P make_shadow_scene.py -- --output shadow.blend\n")
        sys.exit(2)
    parser = argparse.ArgumentParser(prog="make_shadow_scene.py", description="Build the red/blue wall shadow scene.")
    parser.add_argument("--output", required=True, help="where to save the .blend")
    return parser.parse_args(argv[argv.index("--") + 1:])


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


def add_plane(name, centre, size, rgb, index):
    bpy.ops.mesh.primitive_plane_add(size=1.0, location=centre)
    obj = bpy.context.active_object
    obj.scale = (size[0], size[1], 1.0)
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
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
    scene.frame_end = 1
    scene.render.film_transparent = True
    scene.render.resolution_x = 64
    scene.render.resolution_y = 48
    scene.render.resolution_percentage = 100

    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    if bg is not None:
        bg.inputs["Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    scene.world = world

    add_plane("RedWall", (-1.5, 0.0, 0.0), (3.0, 4.0), (1.0, 0.0, 0.0), 1)
    add_plane("BlueWall", (1.5, 0.0, 0.0), (3.0, 4.0), (0.0, 0.0, 1.0), 2)
    bpy.ops.mesh.primitive_cube_add(size=1.2, location=(0.0, 0.0, 2.0))
    cube = bpy.context.active_object
    cube.name = "Blocker"
    cube.pass_index = 3
    cube.data.materials.append(diffuse_material("BlockerMat", (0.5, 0.5, 0.5)))

    cam_data = bpy.data.cameras.new("Camera")
    cam_data.lens = 50.0
    cam_data.sensor_width = 36.0
    cam_data.clip_end = 1000.0
    cam = bpy.data.objects.new("Camera", cam_data)
    cam.location = (0.0, 0.0, 10.0)
    scene.collection.objects.link(cam)
    scene.camera = cam

    sun_data = bpy.data.lights.new("Sun", type="SUN")
    sun_data.energy = 3.0
    sun_data.angle = 0.0  # a hard shadow: its edge falls on a known pixel
    sun = bpy.data.objects.new("Sun", sun_data)
    sun.location = (0.0, 0.0, 20.0)
    sun.rotation_euler = (math.radians(-35.0), 0.0, 0.0)
    scene.collection.objects.link(sun)

    out = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=out, check_existing=False)
    sys.stderr.write("make_shadow_scene.py: saved %s\n" % out)


main()
