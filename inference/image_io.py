"""Loading a photo for the appearance pass: robust, bounded, one-line errors.

`load_photo(path, max_side)` returns ``(rgb, mask)``:

* ``rgb`` float32 (H, W, 3) in [0, 1], sRGB values as stored (no
  linearisation: the splats' colours are fitted in the same space);
* ``mask`` float32 (H, W) in [0, 1] (the alpha channel) when the image has
  transparency (RGBA, LA, palette with a transparent entry), else None.

What is handled: the EXIF orientation tag (the image is turned upright the
way viewers show it), grayscale (L, 1-bit), palette (P), 16-bit and 32-bit
grayscale (I;16, I), float (F), CMYK and YCbCr (converted to RGB), RGBA/LA
(colour plus mask). Images whose longest side exceeds ``max_side`` are
downscaled (area filter) to that side; JPEGs are decoded at a reduced scale
first (`Image.draft`), so a huge photo never needs its full-size decode.

What is refused, as `PhotoError(path, message)` with a one-line message:
missing file, folder, empty or zero-size file, non-image data (text...),
truncated or corrupt image data, images over `MAX_PIXELS` pixels
(decompression bombs). Animated or multi-frame files are read as their
first frame.
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Refuse images with more pixels than this before decoding them (a 16k x 16k
#: photo is 268 M pixels; 1 G is clearly hostile or absurd).
MAX_PIXELS = 1 << 30
#: Default working resolution of the appearance pass (longest side, pixels).
DEFAULT_MAX_SIDE = 512


class PhotoError(ValueError):
    """A photo cannot be used; ``message`` is one line."""

    def __init__(self, path: os.PathLike | str | None, message: str):
        self.path = None if path is None else str(path)
        self.message = " ".join(str(message).split())
        super().__init__(f"{self.path}: {self.message}" if self.path else self.message)


def load_photo(path: os.PathLike | str, max_side: int | None = DEFAULT_MAX_SIDE) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image file as float32 RGB (H, W, 3) in [0, 1] plus an alpha
    mask (H, W) or None; downscaled so that ``max(H, W) <= max_side`` (None:
    full size). Raises `PhotoError` for anything wrong (see the module doc)."""
    p = Path(path)
    if max_side is not None and int(max_side) < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    try:
        if p.is_dir():
            raise PhotoError(p, "is a folder, not an image")
        size = p.stat().st_size
    except FileNotFoundError:
        raise PhotoError(p, "no such file") from None
    except OSError as e:
        raise PhotoError(p, f"cannot read: {e.strerror or e}") from None
    if size == 0:
        raise PhotoError(p, "file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                return _decode(p, im, max_side)
    except PhotoError:
        raise
    except UnidentifiedImageError:
        raise PhotoError(p, "not an image file (or an image format Pillow cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise PhotoError(p, f"image is too large ({e})") from None
    except FileNotFoundError:
        raise PhotoError(p, "no such file") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error) as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg.lower() or isinstance(e, EOFError):
            msg = f"truncated image data ({msg})"
        raise PhotoError(p, f"cannot decode image: {msg}") from None
    except MemoryError:
        raise PhotoError(p, "not enough memory to decode the image") from None


def _decode(p: Path, im: Image.Image, max_side: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    w, h = im.size
    if w < 1 or h < 1:
        raise PhotoError(p, f"image has no pixels ({w}x{h})")
    if w * h > MAX_PIXELS:
        raise PhotoError(p, f"image is {w}x{h} pixels, more than the {MAX_PIXELS} accepted")
    # The EXIF orientation swaps width and height for 90-degree turns; the cap
    # applies to the longest side either way.
    if max_side is not None and im.format == "JPEG" and max(w, h) > 2 * max_side:
        # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT (never below the target).
        im.draft(im.mode, (max(1, w * max_side // max(w, h)), max(1, h * max_side // max(w, h))))
    im.load()  # decodes now: truncated/corrupt data fails here
    im = ImageOps.exif_transpose(im)
    rgb, mask = _to_float(im)
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        rgb, mask = _downscale(rgb, mask, int(max_side))
    if not np.isfinite(rgb).all():
        rgb = np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32), mask


def _to_float(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode -> float32 RGB (H, W, 3) in [0, 1] and alpha (H, W) or None."""
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im, dtype=np.uint16).astype(np.float32) / 65535.0
        return np.repeat(a[..., None], 3, axis=2), None
    if mode == "I":
        a = np.asarray(im, dtype=np.int64).astype(np.float64)
        # 32-bit integer grayscale: 16-bit PNGs open as "I" in some Pillow versions.
        scale = 65535.0 if a.max(initial=0) > 255 else 255.0
        a = np.clip(a / scale, 0.0, 1.0).astype(np.float32)
        return np.repeat(a[..., None], 3, axis=2), None
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        return np.repeat(a[..., None], 3, axis=2), None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        mask = rgba[..., 3].copy()
        return np.ascontiguousarray(rgba[..., :3]), (mask if (mask < 1.0).any() else None)
    if mode in ("RGB;16", "RGBA;16") or mode.startswith("BGR"):
        im = im.convert("RGB")
    if mode != "RGB":
        im = im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return np.asarray(im, dtype=np.float32) / 255.0, None


def _downscale(rgb: np.ndarray, mask: np.ndarray | None, max_side: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Area-filter resize so that the longest side is ``max_side``."""
    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    chans = [rgb[..., c] for c in range(3)] + ([mask] if mask is not None else [])
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(c, dtype=np.float32), "F").resize((nw, nh), Image.Resampling.BOX)) for c in chans]
    new_rgb = np.stack(out[:3], axis=-1).astype(np.float32)
    new_mask = out[3].astype(np.float32) if mask is not None else None
    return new_rgb, new_mask
