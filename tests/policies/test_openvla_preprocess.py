"""OpenVLA LIBERO image preprocessing: orientation, JPEG, resize, TF-style centre crop."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mistvla.policies.openvla.preprocess import (
    center_crop_resize,
    jpeg_roundtrip,
    preprocess_image,
    resize_lanczos,
    to_training_view,
)


def _smooth(h: int = 256, w: int = 256) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / (w - 1), y * 255 / (h - 1), (x + y) * 255 / (h + w - 2)], axis=-1)
    return img.round().astype(np.uint8)


def test_env_frame_becomes_the_180_degree_rotated_raw_frame():
    raw = np.random.default_rng(0).integers(
        0, 255, (8, 6, 3), dtype=np.uint8
    )  # OpenGL buffer, bottom row first
    env_frame = raw[::-1]  # what mistvla's env hands out: rows flipped only
    np.testing.assert_array_equal(to_training_view(env_frame), raw[::-1, ::-1])  # run_libero_eval's input
    np.testing.assert_array_equal(to_training_view(env_frame, mirror=False), env_frame)


def test_jpeg_roundtrip_is_lossy_but_close_and_deterministic():
    smooth = _smooth()
    out = jpeg_roundtrip(smooth)
    assert out.shape == smooth.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - smooth).mean() < 1.5
    noisy = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert not np.array_equal(jpeg_roundtrip(noisy), noisy)
    np.testing.assert_array_equal(jpeg_roundtrip(noisy), jpeg_roundtrip(noisy))


def test_resize_lanczos():
    smooth = _smooth()
    out = resize_lanczos(smooth, 224)
    assert out.shape == (224, 224, 3)
    # A linear ramp stays a linear ramp (away from the borders).
    expected = _smooth(224, 224)
    assert np.abs(out[8:-8, 8:-8].astype(int) - expected[8:-8, 8:-8]).max() <= 2
    const = np.full((256, 256, 3), 77, dtype=np.uint8)
    assert (resize_lanczos(const, 224) == 77).all()
    img224 = np.random.default_rng(2).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_lanczos(img224, 224), img224)


def test_center_crop_identity_and_constant():
    img = np.random.default_rng(3).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(center_crop_resize(img, crop_scale=1.0), img)
    const = np.full((224, 224, 3), 200, dtype=np.uint8)
    assert (center_crop_resize(const, 0.9) == 200).all()


def test_center_crop_samples_tf_crop_and_resize_coordinates():
    """On a horizontal ramp (value = column) output column j is the ramp at TF's sample point."""
    w = 224
    ramp = np.tile(np.arange(w, dtype=np.uint8)[None, :, None], (w, 1, 3))
    out = center_crop_resize(ramp, 0.9)
    side = np.sqrt(0.9)
    off = (1 - side) / 2
    x_in = off * (w - 1) + np.arange(w) * side * (w - 1) / (w - 1)
    expected = np.floor(x_in / 255 * 255.5)
    assert np.abs(out[0, :, 0].astype(float) - expected).max() <= 1
    assert (out == out[:1]).all()  # every row the same


def test_center_crop_matches_a_plain_crop_and_resize():
    img = resize_lanczos(_smooth(), 224)
    side = round(224 * np.sqrt(0.9))
    lo = (224 - side) // 2
    ref = np.asarray(Image.fromarray(img[lo : lo + side, lo : lo + side]).resize((224, 224), Image.BILINEAR))
    assert np.abs(center_crop_resize(img, 0.9).astype(int) - ref).mean() < 1.5


def test_preprocess_image_pipeline():
    frame = _smooth()
    out = preprocess_image(frame)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, resize_lanczos(jpeg_roundtrip(frame[:, ::-1]), 224))
    cropped = preprocess_image(frame, center_crop=True)
    np.testing.assert_array_equal(cropped, center_crop_resize(out, 0.9))
    assert not np.array_equal(cropped, out)
