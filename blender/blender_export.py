"""Renders a .blend to multilayer OpenEXR G-buffers for cnn-v3 (playbook §1b, step 1).

Run inside Blender (Debian's 3.4, 4.x LTS and 5.x):

    blender -b scene.blend -P blender/blender_export.py -- \\
        --output renders/ --width 640 --height 360 --start-frame 1 --end-frame 200

Everything after ``--`` belongs to this script (Blender's own options go before it). The
script switches the scene to Cycles, enables the passes the packer reads (Combined, DiffCol,
Normal, Depth, IndexOB, Shadow where the engine has it, and Vector unless the scene has motion
blur on), and writes one native
OPEN_EXR_MULTILAYER file per frame (32-bit float, ZIP): ``{output}/0001.exr``, ``0002.exr``, …
Then ``cnnv3 pack-blender --exr-dir OUTPUT --output dataset/full`` turns them into samples.

Cycles' render log (``Fra:… Mem:…``) is kept out of the terminal; one status line per frame
goes to stderr. On a render error the tail of the captured log is shown.

Nothing here uses the compositor: the render result itself is saved (the File Output node's
API changed between 3.x, 4.x and 5.x; render output did not, apart from 5.x's media_type).
"""
import argparse
import os
import sys
import tempfile
import time

import bpy

PROG = "blender_export.py"
VERSION = tuple(bpy.app.version)


def fail(message, code=1):
    sys.stderr.write("%s: %s\n" % (PROG, message))
    sys.stderr.flush()
    sys.exit(code)


def parse_args(argv):
    if "--" not in argv:
        fail("the script's options go after a '--' separator, e.g.\n"
             "  blender -b scene.blend -P blender_export.py -- --output renders/ --start-frame 1 --end-frame 2",
             2)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Render G-buffer passes to multilayer EXR files for cnnv3 pack-blender.",
    )
    parser.add_argument("--output", default="//renders/",
                        help="output directory ('//' = the .blend file's directory; default //renders/)")
    parser.add_argument("--width", type=int, default=640, help="render width in pixels (default 640)")
    parser.add_argument("--height", type=int, default=360, help="render height in pixels (default 360)")
    parser.add_argument("--start-frame", type=int, default=None, help="first frame (default: the scene's)")
    parser.add_argument("--end-frame", type=int, default=None, help="last frame (default: the scene's)")
    parser.add_argument("--view-layer", default=None,
                        help="view layer to render (default: the first); '?' lists the layers and exits")
    parser.add_argument("--samples", type=int, default=64, help="Cycles samples per pixel (default 64)")
    parser.add_argument("--denoise", choices=("auto", "on", "off"), default="auto",
                        help="denoise Combined with OpenImageDenoise: auto = when this Blender has it (default)")
    parser.add_argument("--device", choices=("CPU", "GPU"), default="CPU", help="Cycles device (default CPU)")
    parser.add_argument("--threads", type=int, default=0, help="render threads (default 0 = all cores)")
    args = parser.parse_args(argv[argv.index("--") + 1:])
    for name in ("width", "height", "samples"):
        if getattr(args, name) < 1:
            fail("--%s must be ≥ 1, got %d" % (name, getattr(args, name)), 2)
    if args.threads < 0:
        fail("--threads must be ≥ 0, got %d" % args.threads, 2)
    return args


def set_attr(obj, name, value):
    """Sets obj.name when this Blender has it; returns whether it did."""
    if hasattr(obj, name):
        setattr(obj, name, value)
        return True
    return False


def oidn_available():
    try:
        import _cycles  # noqa: PLC0415 (Cycles' own module, present whenever Cycles is)
        return bool(getattr(_cycles, "with_openimagedenoise", False))
    except ImportError:
        return False


def pick_view_layer(scene, wanted):
    layers = list(scene.view_layers)
    if wanted == "?":
        sys.stdout.write("View layers in %s:\n" % (bpy.data.filepath or "this scene"))
        for i, vl in enumerate(layers):
            sys.stdout.write("  %s%s\n" % (vl.name, "  (default)" if i == 0 else ""))
        sys.stdout.flush()
        sys.exit(0)
    if wanted is None:
        return layers[0]
    for vl in layers:
        if vl.name == wanted:
            return vl
    fail("no view layer %r in %s; it has: %s (list them with --view-layer '?')"
         % (wanted, bpy.data.filepath or "the scene", ", ".join(vl.name for vl in layers)), 2)


def enable_passes(scene, view_layer):
    """The passes pack-blender reads. Returns a line for each optional one the files will lack."""
    required = ("use_pass_combined", "use_pass_diffuse_color", "use_pass_normal", "use_pass_z",
                "use_pass_object_index")
    for name in required:
        if not set_attr(view_layer, name, True):
            fail("this Blender %s has no view-layer property %s" % (bpy.app.version_string, name))
    missing = []
    # Shadow: optional. Cycles in Debian's 3.4 has it (Passes > Light > Other > Shadow) and
    # writes Shadow.R/G/B, 1 = lit; a Blender or engine without it writes no Shadow channel,
    # and pack-blender then writes shadow = 255 (fully lit).
    if not set_attr(view_layer, "use_pass_shadow", True):
        missing.append("this Blender has no Shadow pass; pack-blender writes shadow.png fully lit")
    # Vector: optional, for `cnnv3 eval --sequence`'s warping error (docs/formats.md, "motion.bin").
    # Cycles writes it only without motion blur; a scene that blurs keeps its look (the blur is
    # part of the target) and its samples carry no motion.
    if getattr(scene.render, "use_motion_blur", False):
        set_attr(view_layer, "use_pass_vector", False)
        missing.append("the scene has motion blur on, and Cycles writes no Vector pass with it: the samples "
                       "carry no motion.bin (no warping error in eval --sequence); turn motion blur off "
                       "(Render Properties > Motion Blur) to get it")
    elif not set_attr(view_layer, "use_pass_vector", True):
        missing.append("this Blender has no Vector pass; the samples carry no motion.bin")
    # Denoising data passes are not wanted in the G-buffer files.
    set_attr(view_layer.cycles, "denoising_store_passes", False)
    return missing


def configure(scene, args, view_layer):
    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.samples = args.samples
    set_attr(cycles, "use_adaptive_sampling", False)
    cycles.device = args.device
    denoise = args.denoise == "on" or (args.denoise == "auto" and oidn_available())
    if args.denoise == "on" and not oidn_available():
        fail("--denoise on: this Blender %s was built without OpenImageDenoise (use --denoise off)"
             % bpy.app.version_string, 2)
    cycles.use_denoising = denoise
    if denoise:
        set_attr(cycles, "denoiser", "OPENIMAGEDENOISE")
    set_attr(view_layer.cycles, "use_denoising", denoise)

    render = scene.render
    render.resolution_x = args.width
    render.resolution_y = args.height
    render.resolution_percentage = 100
    set_attr(render, "use_border", False)
    if args.threads > 0:
        render.threads_mode = "FIXED"
        render.threads = args.threads
    else:
        render.threads_mode = "AUTO"
    # The render result goes to the file as it is: no compositor, no sequencer. (Optional
    # properties go through set_attr, so a Blender that renamed one still renders.)
    set_attr(render, "use_compositing", False)
    set_attr(render, "use_sequencer", False)
    set_attr(render, "use_file_extension", True)
    set_attr(render, "use_overwrite", True)
    set_attr(render, "use_placeholder", False)
    # Only the chosen layer is rendered, so the EXR holds one view layer.
    for vl in scene.view_layers:
        vl.use = vl == view_layer
    set_attr(render, "use_single_layer", False)
    # Multiview would prefix channels with a view name; keep one view.
    set_attr(render, "use_multiview", False)

    fmt = render.image_settings
    # Blender 5.x splits the format into media_type + file_format; set the type first.
    set_attr(fmt, "media_type", "MULTI_LAYER_IMAGE")
    fmt.file_format = "OPEN_EXR_MULTILAYER"
    fmt.color_depth = "32"  # full float: Depth and Normal need more than half precision
    fmt.exr_codec = "ZIP"
    set_attr(fmt, "color_mode", "RGBA")
    set_attr(fmt, "use_preview", False)
    return denoise


class QuietStdout:
    """Points the C-level stdout (fd 1) at a log file while Blender renders."""

    def __init__(self):
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.saved = None

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(self.log.fileno(), 1)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        return False

    def tail(self, lines=15):
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])


def main():
    if VERSION < (2, 83, 0):
        fail("needs Blender 2.83 or newer (view layers, Cycles passes); this is %s" % bpy.app.version_string)
    args = parse_args(sys.argv)
    scene = bpy.context.scene
    view_layer = pick_view_layer(scene, args.view_layer)
    start = scene.frame_start if args.start_frame is None else args.start_frame
    end = scene.frame_end if args.end_frame is None else args.end_frame
    if end < start:
        fail("--end-frame %d is before --start-frame %d" % (end, start), 2)
    if scene.camera is None:
        fail("%s has no active camera" % (bpy.data.filepath or "the scene"))

    if args.output.startswith("//") and not bpy.data.filepath:
        fail("--output %s is relative to the .blend file, but no .blend is open (give a plain path)"
             % args.output, 2)
    out_dir = os.path.abspath(bpy.path.abspath(args.output))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        fail("%s: output path is a file" % out_dir, 2)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        fail("%s: cannot create the output directory (%s)" % (out_dir, e.strerror))

    missing = enable_passes(scene, view_layer)
    denoise = configure(scene, args, view_layer)
    total = end - start + 1
    sys.stderr.write("%s: Blender %s, Cycles %s, %d samples%s, %dx%d, view layer %r, frames %d-%d -> %s\n"
                     % (PROG, bpy.app.version_string, args.device, args.samples,
                        ", denoised" if denoise else "", args.width, args.height, view_layer.name,
                        start, end, out_dir))
    for line in missing:
        sys.stderr.write("%s: %s\n" % (PROG, line))

    quiet = QuietStdout()
    for i, frame in enumerate(range(start, end + 1)):
        path = os.path.join(out_dir, "%04d.exr" % frame)
        # Blender writes in place; render to a hidden name and rename, so an interrupted
        # render never leaves a torn NNNN.exr (pack-blender skips hidden files).
        partial = os.path.join(out_dir, ".%04d.partial.exr" % frame)
        scene.frame_set(frame)
        scene.render.filepath = partial
        t0 = time.time()
        try:
            with quiet:
                bpy.ops.render.render(write_still=True, scene=scene.name)
        except Exception as e:  # noqa: BLE001 (reported, then the script stops)
            if os.path.exists(partial):
                os.remove(partial)
            fail("frame %d failed: %s\n%s" % (frame, e, quiet.tail()))
        if not os.path.isfile(partial):
            fail("frame %d: Blender wrote no %s\n%s" % (frame, partial, quiet.tail()))
        os.replace(partial, path)
        sys.stderr.write("%s: frame %d (%d/%d) %.1fs -> %s\n" % (PROG, frame, i + 1, total, time.time() - t0, path))
        sys.stderr.flush()
    sys.stderr.write("%s: wrote %d EXR file%s to %s\n" % (PROG, total, "" if total == 1 else "s", out_dir))


try:
    main()
except SystemExit:
    raise
except Exception as e:  # noqa: BLE001 (one line, not Blender's traceback-and-carry-on)
    import traceback

    traceback.print_exc()
    fail("error: %s" % e)
