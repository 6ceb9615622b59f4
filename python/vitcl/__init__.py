"""vitcl from Python: Vision Transformer (ViT-MSN) encoders on vitcl's backends, numpy in
and out.

    import vitcl
    print(vitcl.devices())
    with vitcl.Model("vit-msn-small/") as m:
        emb = m.embed(["cat.jpg", "dog.png"])          # [2, D] float32, CLS token
        out = m.run(pixel_values)                      # [B, S, D] last_hidden_state

docs/python.md documents the API.
"""

import os as _os

import numpy as _np

from . import errors
from .errors import *  # noqa: F401,F403  (the exception classes)
from .errors import Error, InvalidArgumentError
from . import _vitcl

__all__ = ["devices", "Model", "__version__"] + errors.__all__[:-1]
__version__ = _vitcl.library_version

# The plugins built with the package live beside this file; they are searched first
# (VITCL_PLUGIN_PATH and the installed plugin folder come after, see docs/architecture.md).
_vitcl._set_plugin_dir(_os.path.join(_os.path.dirname(__file__), "plugins"))


def devices():
    """Every device of every accepted plugin, as dicts with keys plugin, device (index), name,
    type ("cpu", "gpu", "accelerator", "other"), capabilities (list of str), vendor, driver,
    platform, global_mem_bytes, max_alloc_bytes, compute_units, extra, plugin_version,
    plugin_path, precisions (the names Model's precision= accepts on this device, "fp32" first)
    and precision_notes (the plugin's note on how reduced precisions run there, or ""); then one
    dict per refused plugin file: plugin and device None, plugin_path, and refused (the
    reason)."""
    return _vitcl.devices()


_KIND_PATH, _KIND_ENCODED, _KIND_PIXELS = 0, 1, 2


def _prepare(images):
    """Turns embed's inputs into the extension's (kind, payload) items."""
    if isinstance(images, (str, bytes, _os.PathLike)) or _is_pil(images) or (
            isinstance(images, _np.ndarray) and images.ndim == 3):
        raise InvalidArgumentError(
            "images must be a list (or other iterable) of images, not a single "
            f"{type(images).__name__}")
    items = []
    for i, im in enumerate(images):
        if isinstance(im, (str, _os.PathLike)):
            items.append((_KIND_PATH, _os.fsencode(im)))
        elif isinstance(im, (bytes, bytearray, memoryview)):
            items.append((_KIND_ENCODED, bytes(im)))
        elif _is_pil(im):
            rgb = im if im.mode == "RGB" else im.convert("RGB")
            items.append((_KIND_PIXELS, _np.ascontiguousarray(_np.asarray(rgb, dtype=_np.uint8))))
        elif isinstance(im, _np.ndarray):
            if im.dtype != _np.uint8 or im.ndim != 3 or im.shape[2] != 3:
                raise InvalidArgumentError(
                    f"images[{i}]: an image array must be uint8 [height, width, 3] (RGB), "
                    f"got {im.dtype} {list(im.shape)}")
            items.append((_KIND_PIXELS, _np.ascontiguousarray(im)))
        else:
            raise InvalidArgumentError(
                f"images[{i}]: expected a path, bytes, a PIL image or a uint8 [H, W, 3] array, "
                f"not {type(im).__name__}")
    return items


def _is_pil(obj):
    mod = type(obj).__module__ or ""
    return mod.startswith("PIL.") and hasattr(obj, "convert") and hasattr(obj, "mode")


class Model(_vitcl.Model):
    """A ViT encoder loaded from a Hugging Face model folder (config.json plus
    model.safetensors, a sharded safetensors index or pytorch_model.bin, and optionally
    preprocessor_config.json) onto one backend device.

    Model(path, backend=None, device=None, precision="fp32")
      backend: a plugin name ("ref", "cpu", "opencl"), "auto" or None (VITCL_BACKEND, then auto).
      device: an index or a name substring within the plugin, or None (VITCL_DEVICE, then the
        plugin's best device).
      precision: the linear layers' precision, "fp32" (default), "bf16" or "fp16"
        (vitcl_model_load_ex). A name the library does not know raises InvalidArgumentError; a
        precision the device or plugin does not offer (devices()' "precisions") raises
        UnsupportedError naming the plugin, its ABI version and the device. info["precision"]
        says what the model runs in.

    Use as a context manager or call close(). One Model may be used from several threads;
    calls reaching the device are serialised per backend (open one Model per device for
    parallel work). run() and embed() release the GIL.
    """

    def embed(self, images, pool="cls", batch_size=8):
        """Embeds images: each a path (str or os.PathLike), the bytes of a PNG/JPEG file, a PIL
        image, or a uint8 [H, W, 3] RGB array. Decoding and preprocessing are those of
        `vitcl embed` (transformers' ViTImageProcessorPil with the model's
        preprocessor_config.json), batched batch_size at a time, and the result is bit for bit
        what `vitcl embed` writes. pool: "cls" (token 0, [N, D]), "mean" (mean over all tokens,
        CLS included, [N, D]) or "none" (the whole last_hidden_state, [N, S, D]). Returns a
        float32 array. A file that cannot be decoded raises (FormatError, FileError, ...) naming
        it; nothing is skipped."""
        return self._embed(_prepare(images), pool, batch_size)

    def __repr__(self):
        if self.closed:
            return "<vitcl.Model (closed)>"
        i = self.info
        return f"<vitcl.Model {i['path']!r} on {i['backend']}:{i['device']!r}>"
