"""mistvla.hooks: capture and steer hidden states of neural policies through PyTorch forward hooks.

Public API: :func:`resolve` / :func:`valid_names` (canonical hook names per
architecture), :class:`CaptureSpec` + :func:`capture`, :class:`SteeringSpec` +
:func:`steer`, and :func:`count_hooks` for leak checks. See docs/hooks.md.
"""

from mistvla.hooks.capture import Capture, CaptureRecord, CaptureSpec, capture
from mistvla.hooks.points import ArchHookTable, detect_arch, register_architecture, resolve, valid_names
from mistvla.hooks.session import HookSession, count_hooks
from mistvla.hooks.steering import SteeringSession, SteeringSpec, steer

__all__ = [
    "ArchHookTable",
    "Capture",
    "CaptureRecord",
    "CaptureSpec",
    "HookSession",
    "SteeringSession",
    "SteeringSpec",
    "capture",
    "count_hooks",
    "detect_arch",
    "register_architecture",
    "resolve",
    "steer",
    "valid_names",
]
