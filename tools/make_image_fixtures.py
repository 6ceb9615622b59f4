#!/usr/bin/env python3
"""Generate vitcl's golden image fixtures with the real reference (Pillow + transformers).

Run (deterministic; rewrites only tests/fixtures/images/):
    /opt/vitcl-tools/bin/python tools/make_image_fixtures.py

Needs, besides tools/requirements.txt, scikit-image==0.26.0 (its bundled sample photographs:
astronaut, coffee, chelsea, camera) - pin it in tools/requirements.txt.

Writes tests/fixtures/images/:
    src/<name>.png|.jpg           the input files (PNG modes written by our own small encoder so
                                  every colour type, bit depth, tRNS and interlacing is covered;
                                  JPEGs written by Pillow, the photos from scikit-image)
    golden/<name>.npz             per input (numpy savez_compressed):
                                    rgb       uint8 [H,W,3] = Image.open(f).convert("RGB")
                                              (or row_sums float32 [H] for the 4000x3000 image)
                                    r<F>_<H>x<W> uint8 [H,W,3] = rgb.resize((W,H), F)
                                    pv_<config> float32 [3,H,W] = transformers pixel_values
                                    lhs_demo  float32 [1,S,D] = ViTMSNModel(demo) last_hidden_state
    configs/<config>/preprocessor_config.json   processor settings the pv_ goldens used
    errors/<file>                 files every decoder must refuse (truncated, corrupt, bombs...)
    manifest.json                 what is what (modes, sizes, keys, expected errors)
    VERSIONS.txt                  the versions that produced all of it

Golden pixel_values come from transformers' PIL backend: ViTImageProcessorPil.from_pretrained
(configs/<config>) applied to the Pillow RGB image, return_tensors="np" (not the torchvision
default backend of AutoImageProcessor in transformers 5.x).
"""

import io
import json
import os
import platform
import shutil
import struct
import sys
import zlib

import numpy as np
import PIL
import skimage
import torch
import transformers
from PIL import Image
from skimage import data as skdata
from transformers import ViTImageProcessorPil, ViTMSNModel

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "images")
DEMO = os.path.join(REPO_ROOT, "tests", "fixtures", "demo")
SEED = 20250505

# ------------------------------------------------------------------------------ PNG writer
# Pillow cannot write every PNG flavour (16-bit RGB(A), gray+alpha 16, 1/2/4-bit gray with
# tRNS, interlacing), so the synthetic PNGs are written by this minimal encoder (filter type 0).


def _chunk(kind, payload):
    return (struct.pack(">I", len(payload)) + kind + payload +
            struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _pack_rows(a, bit_depth):
    rows = []
    for row in a:
        flat = row.reshape(-1)
        if bit_depth == 16:
            rows.append(flat.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(flat.astype(np.uint8).tobytes())
        else:
            per = 8 // bit_depth
            out = bytearray()
            for i in range(0, len(flat), per):
                byte = 0
                for j in range(per):
                    v = int(flat[i + j]) if i + j < len(flat) else 0
                    byte |= v << (8 - bit_depth * (j + 1))
                out.append(byte)
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def encode_png(a, color_type, bit_depth, palette=None, trns=None, interlace=False):
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w = a.shape[:2]
    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = a[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                for r in _pack_rows(sub, bit_depth):
                    raw += b"\0" + r
    else:
        for r in _pack_rows(a, bit_depth):
            raw += b"\0" + r
    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(
        ">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += _chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    out += _chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + _chunk(b"IEND", b"")
    return out


# ------------------------------------------------------------------------------ inputs

def photo(name):
    return getattr(skdata, name)()


def pattern(shape, levels, rng):
    """Synthetic samples in 0..levels-1: modular ramps (every level occurs once the image is
    big enough) with a little noise. Smoother than white noise, so the enlarged goldens
    compress well, yet neighbouring samples differ."""
    h, w = shape[:2]
    ch = shape[2] if len(shape) > 2 else 1
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((h, w, ch), np.int64)
    steps = [(1 + levels // 61, 1 + levels // 37), (1 + levels // 53, 1 + levels // 89),
             (1 + levels // 41, 1 + levels // 71), (1 + levels // 29, 1 + levels // 97)]
    for c in range(ch):
        sx, sy = steps[c]
        noise = rng.integers(0, max(2, levels // 64), (h, w))
        out[:, :, c] = (x * sx + y * sy + c * (levels // 3) + noise) % levels
    return out if len(shape) > 2 else out[:, :, 0]


def every_value_rgb(h, w, rng):
    """A 224x224-style texture in which every channel takes every value 0..255."""
    a = pattern((h, w, 3), 256, rng).astype(np.uint8)
    flat = a.reshape(-1, 3)
    for c in range(3):
        assert len(np.unique(flat[:, c])) == 256
    return a


def jpeg_bytes(img, **kw):
    b = io.BytesIO()
    img.save(b, format="JPEG", **kw)
    return b.getvalue()


def png_bytes_pillow(img, **kw):
    b = io.BytesIO()
    img.save(b, format="PNG", **kw)
    return b.getvalue()


def big_image():
    """The deterministic 4000x3000 input: a photo enlarged 8x by pixel repetition plus a smooth
    ramp, so that the JPEG stays small (~0.5 MB) yet every block differs."""
    cat = photo("coffee")[:375, :500]  # 375x500 -> 3000x4000
    big = np.repeat(np.repeat(cat, 8, axis=0), 8, axis=1).astype(np.int32)
    ramp = (np.arange(4000)[None, :] // 97 + np.arange(3000)[:, None] // 89) % 7
    return np.clip(big + ramp[:, :, None], 0, 255).astype(np.uint8)


def make_inputs(rng):
    """(name, bytes, extension, notes) for every decodable fixture."""
    items = []

    def add(name, payload, ext, note):
        items.append((name, payload, ext, note))

    def g(lo, hi, shape):
        assert lo == 0
        return pattern(shape, hi, rng)

    # PNG gray 1/2/4/8/16 bit
    add("png_gray1_13x7", encode_png(g(0, 2, (7, 13)), 0, 1), "png", "1-bit gray, mode 1")
    add("png_gray2_9x5", encode_png(g(0, 4, (5, 9)), 0, 2), "png", "2-bit gray")
    add("png_gray4_17x11", encode_png(g(0, 16, (11, 17)), 0, 4), "png", "4-bit gray")
    add("png_gray4_trns_17x11", encode_png(g(0, 16, (11, 17)), 0, 4, trns=struct.pack(">H", 3)),
        "png", "4-bit gray with tRNS (ignored by convert)")
    cam = photo("camera")
    add("png_gray8_camera_160x128", encode_png(cam[100:228, 180:340], 0, 8), "png",
        "8-bit gray photo crop")
    add("png_gray8_trns_31x23", encode_png(g(0, 256, (23, 31)), 0, 8, trns=struct.pack(">H", 7)),
        "png", "8-bit gray with tRNS")
    v16 = g(0, 65536, (30, 40))
    v16[::3] = g(0, 300, (10, 40))  # many values near the 255 clip point
    add("png_gray16_40x30", encode_png(v16, 0, 16), "png", "16-bit gray, mode I;16 (clipped)")
    add("png_gray16_interlaced_40x30", encode_png(v16, 0, 16, interlace=True), "png",
        "16-bit gray, Adam7 interlaced")
    # gray + alpha
    add("png_la8_25x19", encode_png(g(0, 256, (19, 25, 2)), 4, 8), "png", "8-bit gray+alpha")
    add("png_la16_21x15", encode_png(g(0, 65536, (15, 21, 2)), 4, 16), "png",
        "16-bit gray+alpha, opens as RGBA")
    # RGB / RGBA 8 and 16 bit
    add("png_rgb8_1x1", encode_png(np.array([[[12, 200, 99]]]), 2, 8), "png", "1x1 RGB")
    add("png_rgb8_5x3", encode_png(g(0, 256, (3, 5, 3)), 2, 8), "png", "tiny RGB (upscaled)")
    add("png_rgb8_7x300", encode_png(g(0, 256, (300, 7, 3)), 2, 8), "png", "tall thin RGB")
    add("png_rgb8_224x224", encode_png(every_value_rgb(224, 224, rng), 2, 8), "png",
        "exactly 224x224 (resize is a copy); every value in every channel")
    astro = photo("astronaut")
    add("png_rgb8_astronaut_200x150", encode_png(astro[20:170, 150:350], 2, 8), "png",
        "RGB photo crop")
    add("png_rgb8_interlaced_astronaut_97x61",
        encode_png(astro[300:361, 200:297], 2, 8, interlace=True), "png",
        "Adam7 interlaced RGB photo crop, odd size")
    add("png_rgb8_trns_30x20", encode_png(g(0, 256, (20, 30, 3)), 2, 8,
                                          trns=struct.pack(">HHH", 1, 2, 3)), "png",
        "RGB with tRNS")
    add("png_rgb16_33x27", encode_png(g(0, 65536, (27, 33, 3)), 2, 16), "png", "16-bit RGB")
    coffee = photo("coffee")
    rgba = np.concatenate([coffee[100:148, 200:264],
                           g(0, 256, (48, 64, 1)).astype(np.uint8)], axis=2)
    add("png_rgba8_coffee_64x48", encode_png(rgba, 6, 8), "png",
        "RGBA photo crop with random alpha (alpha dropped, not composited)")
    add("png_rgba16_19x23", encode_png(g(0, 65536, (23, 19, 4)), 6, 16), "png", "16-bit RGBA")
    add("png_rgba16_interlaced_19x23", encode_png(g(0, 65536, (23, 19, 4)), 6, 16,
                                                  interlace=True), "png",
        "16-bit RGBA interlaced")
    # palettes
    pal = g(0, 256, (256, 3))
    add("png_pal1_20x9", encode_png(g(0, 2, (9, 20)), 3, 1, palette=pal[:2]), "png",
        "1-bit palette")
    add("png_pal4_trns_23x14", encode_png(g(0, 16, (14, 23)), 3, 4, palette=pal[:16],
                                          trns=bytes([0, 128, 255, 7])), "png",
        "4-bit palette with tRNS")
    add("png_pal8_shortplte_29x17", encode_png(g(0, 256, (17, 29)), 3, 8, palette=pal[:100]),
        "png", "8-bit palette with 100 PLTE entries; larger indices are black in Pillow")
    add("png_pal8_interlaced_trns_45x33", encode_png(g(0, 256, (33, 45)), 3, 8, palette=pal,
                                                     trns=bytes(range(0, 256, 3)),
                                                     interlace=True), "png",
        "8-bit palette, tRNS, interlaced")
    add("png_pillow_rgb_chelsea_120x90",
        png_bytes_pillow(Image.fromarray(photo("chelsea")[50:140, 150:270])), "png",
        "RGB PNG written by Pillow (filtered rows)")
    # JPEG
    add("jpg_baseline_astronaut_320x256",
        jpeg_bytes(Image.fromarray(astro[100:356, 96:416]), quality=90), "jpg",
        "baseline, 4:2:0, photo")
    add("jpg_progressive_coffee_400x300",
        jpeg_bytes(Image.fromarray(coffee[50:350, 100:500]), quality=85, progressive=True), "jpg",
        "progressive, 4:2:0, photo")
    add("jpg_444_chelsea_451x300",
        jpeg_bytes(Image.fromarray(photo("chelsea")), quality=92, subsampling=0), "jpg",
        "baseline 4:4:4, photo")
    add("jpg_422_odd_101x77",
        jpeg_bytes(Image.fromarray(coffee[150:227, 300:401]), quality=80, subsampling=1),
        "jpg", "4:2:2 with odd sizes (edge upsampling)")
    add("jpg_gray_camera_256x192",
        jpeg_bytes(Image.fromarray(cam[200:392, 128:384]), quality=88), "jpg", "grayscale")
    add("jpg_cmyk_chelsea_150x100",
        jpeg_bytes(Image.fromarray(photo("chelsea")[100:200, 200:350]).convert("CMYK"),
                   quality=90), "jpg", "CMYK (Adobe) written by Pillow")
    add("jpg_1x1", jpeg_bytes(Image.fromarray(np.array([[[250, 10, 128]]], np.uint8))), "jpg",
        "1x1")
    add("jpg_big_4000x3000", jpeg_bytes(Image.fromarray(big_image()), quality=70), "jpg",
        "4000x3000 (12 Mpixel), compared through row sums and resizes")
    # mislabelled: the extension lies, the content decides
    add("mislabelled_jpeg_named_png", jpeg_bytes(Image.fromarray(astro[:40, :56]),
                                                 quality=90), "png", "a JPEG named .png")
    add("mislabelled_png_named_jpg", encode_png(astro[:30, :20], 2, 8), "jpg",
        "a PNG named .jpg")
    return items


# resize goldens: (filter, height, width). Photos, size cases (1x1, tiny, tall, 224x224, big)
# and the JPEGs get 224x224 BILINEAR and a BICUBIC size; the synthetic PNG mode cases (whose
# point is the decoding) get smaller targets, to keep the committed goldens small.
RESIZES_FULL = [(2, 224, 224), (3, 120, 150)]
RESIZES_SMALL = [(2, 32, 24), (3, 20, 28)]
SMALL_FOR = {"png_gray1_13x7", "png_gray2_9x5", "png_gray4_17x11", "png_gray4_trns_17x11",
             "png_gray8_trns_31x23", "png_gray16_interlaced_40x30", "png_la8_25x19",
             "png_la16_21x15", "png_rgb8_trns_30x20", "png_rgb16_33x27", "png_rgba16_19x23",
             "png_rgba16_interlaced_19x23", "png_pal1_20x9", "png_pal4_trns_23x14",
             "png_pal8_shortplte_29x17", "png_pal8_interlaced_trns_45x33"}
RESIZES_EXTRA = [(1, 97, 131), (4, 97, 131), (5, 97, 131), (2, 31, 500), (3, 300, 17),
                 # Pillow's pass order flips at src_h - dst_h = 2 * (src_w - dst_w): for the
                 # 200x150 astronaut crop these two sit on either side of it
                 (2, 110, 180), (2, 109, 180), (3, 110, 180), (3, 109, 180)]
EXTRA_FOR = {"png_rgb8_astronaut_200x150", "jpg_444_chelsea_451x300", "png_rgb8_5x3",
             "png_rgb8_224x224", "jpg_big_4000x3000"}

CONFIGS = {
    # the Hub's facebook/vit-msn-* form (2022 ViTFeatureExtractor, int size, ImageNet stats)
    "msn": None,  # copied from tests/fixtures/demo/preprocessor_config.json
    # absent keys: ViTImageProcessorPil's defaults
    "defaults": {},
    "bicubic_shortest": {"image_processor_type": "ViTImageProcessor", "do_resize": True,
                         "size": {"shortest_edge": 96}, "resample": 3, "do_rescale": True,
                         "rescale_factor": 0.00392156862745098, "do_normalize": True,
                         "image_mean": [0.48145466, 0.4578275, 0.40821073],
                         "image_std": [0.26862954, 0.26130258, 0.27577711]},
    "no_rescale_hw": {"do_resize": True, "size": {"height": 64, "width": 80}, "resample": 2,
                      "do_rescale": False, "do_normalize": True,
                      "image_mean": [123.675, 116.28, 103.53],
                      "image_std": [58.395, 57.12, 57.375]},
    "no_resize": {"do_resize": False, "do_rescale": True, "rescale_factor": 0.0039,
                  "do_normalize": False},
}
PV_FOR = {
    "msn": ["png_rgb8_224x224", "jpg_baseline_astronaut_320x256", "jpg_cmyk_chelsea_150x100"],
    "defaults": ["png_pal4_trns_23x14"],
    "bicubic_shortest": ["jpg_444_chelsea_451x300", "png_rgb8_5x3", "png_rgb8_224x224"],
    "no_rescale_hw": ["png_rgb8_224x224", "png_la16_21x15"],
    "no_resize": ["png_gray8_camera_160x128", "png_rgba8_coffee_64x48"],
}
LHS_FOR = ["jpg_baseline_astronaut_320x256", "jpg_cmyk_chelsea_150x100", "png_gray16_40x30"]


def make_errors(items):
    """(file, expected vitcl status, why) for inputs that must be refused."""
    by = {n: p for n, p, _, _ in items}
    png = by["mislabelled_png_named_jpg"]
    jpg = by["mislabelled_jpeg_named_png"]
    errs = []
    errs.append(("empty.png", b"", "VITCL_ERR_FORMAT", "zero bytes"))
    errs.append(("text_named.jpg", b"this is not an image, only text\n", "VITCL_ERR_FORMAT",
                 "a text file named .jpg"))
    errs.append(("truncated.png", png[:len(png) // 2], "VITCL_ERR_FORMAT", "PNG cut in half"))
    errs.append(("truncated.jpg", jpg[:len(jpg) // 2], "VITCL_ERR_FORMAT", "JPEG cut in half"))
    errs.append(("signature_only.png", png[:8], "VITCL_ERR_FORMAT", "PNG signature only"))
    bad = bytearray(png)
    idat = bad.find(b"IDAT")
    for i in range(idat + 40, idat + 60):
        bad[i] ^= 0x5A
    errs.append(("corrupt_idat.png", bytes(bad), "VITCL_ERR_FORMAT", "IDAT bytes flipped (CRC)"))
    badj = bytearray(jpg)
    sof = badj.find(b"\xff\xc0")
    badj[sof + 4:sof + 12] = b"\xff" * 8  # garbage in the frame header
    errs.append(("corrupt_sof.jpg", bytes(badj), "VITCL_ERR_FORMAT", "garbage frame header"))
    # a header that claims 100000 x 100000 pixels, followed by a tiny IDAT
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(b"\0" * 3000)) + _chunk(b"IEND", b""))
    errs.append(("bomb_100000x100000.png", bomb, "VITCL_ERR_LIMIT",
                 "PNG header claims 1e10 pixels"))
    bj = bytearray(jpg)
    struct.pack_into(">HH", bj, sof + 5, 65500, 65500)
    errs.append(("bomb_65500x65500.jpg", bytes(bj), "VITCL_ERR_LIMIT",
                 "JPEG frame header claims 4.3e9 pixels"))
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    errs.append(("image.gif", gif.getvalue(), "VITCL_ERR_UNSUPPORTED", "a GIF"))
    return errs


def pillow_verdict(payload):
    buf = io.BytesIO(payload)
    try:
        with Image.open(buf) as im:
            im.convert("RGB")
        return "decoded"
    except Exception as e:  # noqa: BLE001 - recording what Pillow says, whatever it is
        return f"{type(e).__name__}: {e}".replace(repr(buf), "<bytes>")


def main():
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for sub in ("src", "golden", "configs", "errors"):
        os.makedirs(os.path.join(OUT, sub))

    configs = dict(CONFIGS)
    with open(os.path.join(DEMO, "preprocessor_config.json")) as f:
        configs["msn"] = json.load(f)
    processors = {}
    for name, cfg in configs.items():
        d = os.path.join(OUT, "configs", name)
        os.makedirs(d)
        with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
        processors[name] = ViTImageProcessorPil.from_pretrained(d)
        assert processors[name].backend == "pil"

    model = ViTMSNModel.from_pretrained(DEMO, attn_implementation="eager").eval()

    manifest = {"images": [], "errors": [], "configs": sorted(configs)}
    items = make_inputs(rng)
    for name, payload, ext, note in items:
        fname = f"{name}.{ext}"
        with open(os.path.join(OUT, "src", fname), "wb") as f:
            f.write(payload)
        im = Image.open(io.BytesIO(payload))
        mode, fmt = im.mode, im.format
        rgb_img = im.convert("RGB")
        rgb = np.asarray(rgb_img)
        h, w = rgb.shape[:2]
        arrays = {}
        if h * w > 4_000_000:
            arrays["row_sums"] = rgb.astype(np.float64).sum(axis=(1, 2)).astype(np.float32)
        else:
            arrays["rgb"] = rgb
        resizes = list(RESIZES_SMALL if name in SMALL_FOR else RESIZES_FULL)
        resizes += RESIZES_EXTRA if name in EXTRA_FOR else []
        entry_resizes = []
        for filt, rh, rw in resizes:
            key = f"r{filt}_{rh}x{rw}"
            arrays[key] = np.asarray(rgb_img.resize((rw, rh), resample=filt))
            entry_resizes.append({"key": key, "filter": filt, "height": rh, "width": rw})
        pvs = []
        for cname in sorted(configs):
            if name in PV_FOR.get(cname, []):
                pv = processors[cname](rgb_img, return_tensors="np")["pixel_values"][0]
                arrays[f"pv_{cname}"] = pv.astype(np.float32)
                pvs.append({"key": f"pv_{cname}", "config": cname, "shape": list(pv.shape)})
        lhs = None
        if name in LHS_FOR:
            pv = processors["msn"](rgb_img, return_tensors="pt")["pixel_values"]
            with torch.no_grad():
                out = model(pixel_values=pv).last_hidden_state
            arrays["lhs_demo"] = out.numpy().astype(np.float32)
            lhs = {"key": "lhs_demo", "model": "tests/fixtures/demo", "config": "msn",
                   "shape": list(out.shape)}
        np.savez_compressed(os.path.join(OUT, "golden", f"{name}.npz"), **arrays)
        manifest["images"].append({
            "name": name, "file": f"src/{fname}", "golden": f"golden/{name}.npz",
            "pillow_format": fmt, "pillow_mode": mode, "width": w, "height": h,
            "note": note, "resizes": entry_resizes, "pixel_values": pvs,
            "last_hidden_state": lhs})

    for fname, payload, status, why in make_errors(items):
        with open(os.path.join(OUT, "errors", fname), "wb") as f:
            f.write(payload)
        manifest["errors"].append({"file": f"errors/{fname}", "status": status, "why": why,
                                   "pillow": pillow_verdict(payload)})

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write(f"python: {platform.python_version()}\n")
        f.write(f"pillow: {PIL.__version__}\n")
        from PIL import features
        f.write(f"pillow libjpeg-turbo: {features.version('libjpeg_turbo')}\n")
        f.write(f"pillow zlib: {features.version('zlib')}\n")
        f.write(f"transformers: {transformers.__version__} (ViTImageProcessorPil, backend pil)\n")
        f.write(f"torch: {torch.__version__}\n")
        f.write(f"numpy: {np.__version__}\n")
        f.write(f"scikit-image: {skimage.__version__}\n")
        f.write("command: tools/make_image_fixtures.py\n")
    print(f"wrote {len(manifest['images'])} images, {len(manifest['errors'])} error cases "
          f"to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
