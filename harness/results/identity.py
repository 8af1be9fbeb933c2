"""One episode's identity: the fields that name it, its key, its pairing and its cluster.

Everything that identifies an episode is spelled out here once: the store's
``episode_key``, the pairing of an intervention episode with its base episode
(:attr:`EpisodeId.pairing`), the cluster of correlated episodes used by the
intervals (:attr:`EpisodeId.cluster`), the video file name and the seed of
the episode's random choices.

>>> ep = EpisodeId("smolvla", "none", "libero_spatial", 3, 7, 0)
>>> ep.key
'smolvla_none_libero-spatial_t003_i007_s0_r0_274751ef'
>>> ep.pairing, ep.cluster
(('libero_spatial', 3, 7, 0, 0, 'none', 0), ('libero_spatial', 3, 7))
>>> EpisodeId.from_record({**ep.as_record(), "success": True}) == ep
True

A perturbed episode names its perturbation (label and level) in its key; a
clean one keeps exactly the key it had before perturbations existed. It pairs
with its clean twin (same policy, intervention, task, init state, seed, repeat)
on :attr:`EpisodeId.robustness_pairing`:

>>> cam = EpisodeId("smolvla", "none", "libero_spatial", 3, 7, 0, perturbation="camera", perturbation_level=2)
>>> cam.key
'smolvla_none_libero-spatial_t003_i007_s0_r0_camera-L2_8dd5a318'
>>> cam.robustness_pairing == ep.robustness_pairing, cam.is_clean, cam.condition
(True, False, ('camera', 2))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(text)).strip("-") or "x"


@dataclass(frozen=True)
class EpisodeId:
    """The identifying fields of an episode record (column names of the episode table)."""

    policy: str
    intervention: str
    """Label of the intervention (``none``: the base policy)."""
    suite: str
    task_index: int
    init_state: int
    seed: int
    repeat: int = 0
    """Rerun index of the same (task, init state, seed)."""
    perturbation: str = "none"
    """Label of the env perturbation (``none``: the clean env)."""
    perturbation_level: int = 0
    """Its severity, 1..5 (0: clean)."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EpisodeId:
        """The identity of an episode record (a row of the episode table, or a runner record)."""
        return cls(**{name: record[name] for name in cls.field_names() if record.get(name) is not None})

    def as_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        """Stable, file-name-safe key; equal identities give equal keys across processes.

        A readable prefix plus 8 hex digits of a hash of the exact fields, so two
        names that slug alike (``a_b`` and ``a-b``) still get different keys.
        """
        fields: list[Any] = [
            self.policy,
            self.intervention,
            self.suite,
            int(self.task_index),
            int(self.init_state),
            int(self.seed),
            int(self.repeat),
        ]
        perturbed = [] if self.is_clean else [f"{_slug(self.perturbation)}-L{int(self.perturbation_level)}"]
        if perturbed:  # clean episodes keep the key they had before perturbations existed
            fields += [self.perturbation, int(self.perturbation_level)]
        digest = hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:8]
        parts = [_slug(self.policy), _slug(self.intervention), _slug(self.suite)]
        return "_".join(
            [
                *parts,
                f"t{int(self.task_index):03d}",
                f"i{int(self.init_state):03d}",
                f"s{self.seed}",
                f"r{self.repeat}",
                *perturbed,
                digest,
            ]
        )

    @property
    def is_clean(self) -> bool:
        """No env perturbation (label ``none`` or level 0)."""
        return self.perturbation == "none" or int(self.perturbation_level) == 0

    @property
    def condition(self) -> tuple[str, int]:
        """The env condition: (perturbation label, level), ``("none", 0)`` when clean."""
        return ("none", 0) if self.is_clean else (self.perturbation, int(self.perturbation_level))

    @property
    def pairing(self) -> tuple[Any, ...]:
        """The unit on which an intervention episode is paired with its base episode (same env condition)."""
        return (self.suite, self.task_index, self.init_state, self.seed, self.repeat, *self.condition)

    @property
    def robustness_pairing(self) -> tuple[Any, ...]:
        """The unit on which a perturbed episode is paired with its clean twin (same method, same start)."""
        return (
            self.policy,
            self.intervention,
            self.suite,
            self.task_index,
            self.init_state,
            self.seed,
            self.repeat,
        )

    @property
    def cluster(self) -> tuple[Any, ...]:
        """The cluster of correlated episodes: reruns of the same (task, init state)."""
        return (self.suite, self.task_index, self.init_state)

    @property
    def episode_seed(self) -> int:
        """Seed of the env reset's randomness and of every random choice in the episode (policy, intervention)."""
        seq = np.random.SeedSequence([self.seed, self.task_index, self.init_state, self.repeat])
        return int(seq.generate_state(1)[0])
