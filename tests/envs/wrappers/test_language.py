import numpy as np
from wrapper_helpers import rollout, same_obs

from mistvla.harness.envs.wrappers.language import LanguagePerturbation


def test_instruction_changes_more_with_level_and_images_do_not(env):
    clean = rollout(env)
    texts = []
    for lvl in (1, 3, 5):
        wrapped = LanguagePerturbation(env, level=lvl)
        out = rollout(wrapped)
        assert same_obs(out[0][0], clean[0][0])
        texts.append(out[0][1]["instruction"])
        assert wrapped.instruction == texts[-1] != env.instruction
    words = set(env.instruction.lower().split())
    overlap = [len(words & set(t.split())) / len(words) for t in texts]
    assert overlap[0] > overlap[1] >= overlap[2] and np.isfinite(overlap).all(), (texts, overlap)
