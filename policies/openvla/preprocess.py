"""OpenVLA's LIBERO image preprocessing, step by step (sources in docs/openvla.md).

1. ``to_training_view``: OpenVLA's LIBERO models were trained on robosuite's raw
   agentview frame rotated 180° (``raw[::-1, ::-1]``, ``libero_utils.get_libero_image``).
   mistvla's env hands out the frame the right way up, ``raw[::-1]`` (rows
   flipped only), so the training view is that image mirrored left-right: the
   ``lerobot`` dataset convention's frame (:mod:`mistvla.harness.envs.conventions`).
2. ``jpeg_roundtrip`` + ``resize_lanczos``: ``libero_utils.resize_image`` JPEG-encodes
   and decodes (as the RLDS dataset builder stored frames), then resizes to 224 with
   TF's ``lanczos3`` + antialias. Here: PIL JPEG at quality 95, 4:2:0 (TF's
   ``encode_jpeg`` defaults) and PIL's Lanczos (a = 3, antialiased when shrinking);
   the resize can differ from TF's by a grey level or so at some pixels.
3. ``center_crop_resize`` (models trained with random crops): ``openvla_utils.crop_and_resize``
   — a centred box of sqrt(0.9) of each side (0.9 of the area) resized back to 224
   with bilinear sampling. This one follows TF's ``crop_and_resize`` kernel formula
   and ``convert_image_dtype`` rounding exactly (float32).

>>> img = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
>>> bool((to_training_view(img) == img[:, ::-1]).all())
True
>>> bool((center_crop_resize(img, crop_scale=1.0, size=4) == img).all())
True
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mistvla.harness.envs.conventions import convention_frame

JPEG_QUALITY = 95
"""``tf.image.encode_jpeg`` default quality."""
OPENVLA_IMAGE_SIZE = 224
CROP_SCALE = 0.9
"""Area fraction of the centre crop (``openvla_utils.get_vla_action``)."""


def to_training_view(upright: np.ndarray, mirror: bool = True) -> np.ndarray:
    """The env's right-way-up frame (``raw[::-1]``) -> OpenVLA's training view (``raw[::-1, ::-1]``)."""
    return convention_frame(upright, "lerobot" if mirror else "mistvla")


def jpeg_roundtrip(img: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Encode as JPEG (4:2:0 chroma) and decode again, as the RLDS data were stored."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img, dtype=np.uint8)).save(buf, format="JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def resize_lanczos(img: np.ndarray, size: int = OPENVLA_IMAGE_SIZE) -> np.ndarray:
    """Resize to ``size`` x ``size`` with antialiased Lanczos-3 (identity when already that size)."""
    arr = np.asarray(img, dtype=np.uint8)
    if arr.shape[:2] == (size, size):
        return arr
    return np.asarray(Image.fromarray(arr).resize((size, size), resample=Image.Resampling.LANCZOS))


def center_crop_resize(
    img: np.ndarray, crop_scale: float = CROP_SCALE, size: int | None = None
) -> np.ndarray:
    """TF ``crop_and_resize`` of the centred box of area ``crop_scale``, back to ``size`` (default: input size).

    uint8 -> float32 in [0, 1] (``* (1/255)``), bilinear sampling at
    ``y1 * (H - 1) + y * (y2 - y1) * (H - 1) / (size - 1)``, clip to [0, 1],
    then ``* 255.5`` truncated to uint8 (``convert_image_dtype(saturate=True)``).
    """
    src = np.asarray(img, dtype=np.uint8)
    h_in, w_in = src.shape[:2]
    out_h = out_w = int(size or h_in)
    f32 = np.float32
    x = src.astype(f32) * f32(1.0 / 255.0)
    side = f32(np.clip(np.sqrt(f32(crop_scale)), 0, 1))
    off = (f32(1) - side) / f32(2)
    y1 = x1 = off
    y2 = x2 = off + side

    def coords(lo: np.float32, hi: np.float32, n_in: int, n_out: int) -> np.ndarray:
        if n_out > 1:
            scale = f32((hi - lo) * f32(n_in - 1) / f32(n_out - 1))
            return (lo * f32(n_in - 1) + np.arange(n_out, dtype=f32) * scale).astype(f32)
        return np.array([f32(0.5) * (lo + hi) * f32(n_in - 1)], dtype=f32)

    in_y, in_x = coords(y1, y2, h_in, out_h), coords(x1, x2, w_in, out_w)
    top, left = np.floor(in_y).astype(int), np.floor(in_x).astype(int)
    bottom, right = np.ceil(in_y).astype(int), np.ceil(in_x).astype(int)
    y_lerp = (in_y - top.astype(f32))[:, None, None]
    x_lerp = (in_x - left.astype(f32))[None, :, None]
    tl, tr = x[top][:, left], x[top][:, right]
    bl, br = x[bottom][:, left], x[bottom][:, right]
    upper = tl + (tr - tl) * x_lerp
    lower = bl + (br - bl) * x_lerp
    out = np.clip(upper + (lower - upper) * y_lerp, 0, 1)
    return np.clip(out * f32(255.5), 0, 255).astype(np.uint8)


def preprocess_image(
    upright: np.ndarray,
    center_crop: bool = False,
    mirror: bool = True,
    size: int = OPENVLA_IMAGE_SIZE,
) -> np.ndarray:
    """Env frame -> the uint8 (size, size, 3) image OpenVLA's processor receives."""
    img = to_training_view(upright, mirror=mirror)
    img = resize_lanczos(jpeg_roundtrip(img), size)
    if center_crop:
        img = center_crop_resize(img, CROP_SCALE, size)
    return img
