"""Sensor noise: ImageNet-C-style corruptions of the policy's camera images, severity = level.

Corruptions (Hendrycks & Dietterich 2019; parameters from their
``make_imagenet_c.py``, blur radii scaled from 224 px to the image size):
``gaussian_noise``, ``gaussian_blur``, ``motion_blur``, ``fog``, ``jpeg``. Fog
keeps the fractal's decay at 2.0 and raises only its strength, because
ImageNet-C's own decays (2.0 down to 1.4) make severities 3-5 non-monotone in
PSNR on small images.
Only the observation changes; the simulator and the rendering do not. Random
parts (noise, motion direction, fog pattern) come from a generator seeded per
episode, so the corrupted frames are reproducible.

>>> img = np.full((32, 32, 3), 128, np.uint8)
>>> bool(corrupt(img, "gaussian_noise", 3, np.random.default_rng(0)).std() > 0)
True
>>> corrupt(img, "jpeg", 1, np.random.default_rng(0)).shape
(32, 32, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from mistvla.harness.envs.wrappers.base import PerturbationWrapper, map_images

CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "motion_blur", "fog", "jpeg")
SEVERITY = {
    "gaussian_noise": [0.08, 0.12, 0.18, 0.26, 0.38],  # std, fraction of full scale
    "gaussian_blur": [1.0, 2.0, 3.0, 4.0, 6.0],  # sigma at 224 px
    "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],  # (radius, sigma) at 224 px
    "fog": [(1.5, 2.0), (2.0, 2.0), (2.5, 2.0), (3.0, 2.0), (3.5, 2.0)],  # (strength, decay); see below
    "jpeg": [25, 18, 15, 10, 7],  # quality
}


def _fog_layer(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """Fractal noise in [0, 1]: octaves of upsampled random grids, amplitude falling by ``decay``."""
    layer = np.zeros((size, size), np.float32)
    amp, cells = 1.0, 2
    while cells <= size:
        grid = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
        layer += amp * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        amp /= decay
        cells *= 2
    layer -= layer.min()
    return layer / max(float(layer.max()), 1e-6)


def corrupt(img: np.ndarray, kind: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """``img`` (uint8 HxWx3) corrupted by ``kind`` at ``severity`` 1..5."""
    c = SEVERITY[kind][severity - 1]
    h, w = img.shape[:2]
    scale = h / 224.0
    x = img.astype(np.float32) / 255.0
    if kind == "gaussian_noise":
        x = x + rng.normal(0.0, c, x.shape).astype(np.float32)
    elif kind == "gaussian_blur":
        x = cv2.GaussianBlur(x, (0, 0), sigmaX=max(c * scale, 0.3))
    elif kind == "motion_blur":
        radius, sigma = c
        length = max(round(radius * scale) * 2 + 1, 3)
        kernel = np.zeros((length, length), np.float32)
        weights = np.exp(-0.5 * ((np.arange(length) - length // 2) / max(sigma * scale, 0.5)) ** 2)
        kernel[length // 2, :] = weights / weights.sum()
        angle = float(rng.uniform(-45.0, 45.0))
        rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        x = cv2.filter2D(x, -1, kernel / max(float(kernel.sum()), 1e-6), borderType=cv2.BORDER_REFLECT)
    elif kind == "fog":
        strength, decay = c
        fog = _fog_layer(max(h, w), decay, rng)[:h, :w, None]
        peak = x.max()
        x = (x + strength * fog) * peak / (peak + strength)
    elif kind == "jpeg":
        _, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(c)])
        return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    else:
        raise ValueError(f"unknown corruption {kind!r}; known: {', '.join(CORRUPTIONS)}")
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class SensorNoiseOptions:
    corruption: str = "gaussian_noise"
    """One of ``gaussian_noise``, ``gaussian_blur``, ``motion_blur``, ``fog``, ``jpeg``. Fog
keeps the fractal's decay at 2.0 and raises only its strength, because
ImageNet-C's own decays (2.0 down to 1.4) make severities 3-5 non-monotone in
PSNR on small images."""
    cameras: tuple[str, ...] | None = None
    """Cameras to corrupt; None: every camera in the observation."""

    def __post_init__(self) -> None:
        if self.corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {list(CORRUPTIONS)}, got {self.corruption!r}")


class SensorNoise(PerturbationWrapper):
    """Corrupt every observed camera image (reset and steps); the simulator is untouched."""

    name = "sensor_noise"
    Config = SensorNoiseOptions
    visual = True
    LEVELS: ClassVar[dict[int, dict[str, Any]]] = {
        lvl: {k: SEVERITY[k][lvl - 1] for k in CORRUPTIONS} for lvl in range(1, 6)
    }

    def sample(self, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        self._noise_rng = np.random.default_rng(rng.integers(2**63))
        return {"corruption": self.options.corruption, "severity": self.level}

    def _corrupt(self, obs: dict[str, Any]) -> dict[str, Any]:
        cams = self.options.cameras

        def fn(cam: str, img: np.ndarray) -> np.ndarray:
            if cams is not None and cam not in cams:
                return img
            return corrupt(img, self.options.corruption, self.level, self._noise_rng)

        return map_images(obs, fn)

    def on_reset(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        return self._corrupt(obs)

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.active:
            obs = self._corrupt(obs)
        return obs, reward, terminated, truncated, info
