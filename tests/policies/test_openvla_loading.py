"""Loading helpers: remote-code compatibility patch, device/dtype choice, model families."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mistvla.policies.openvla.loading import family_of, patch_remote_code, pick_device_dtype

REMOTE = """
from transformers import PretrainedConfig, PreTrainedModel


class FakeBase(PreTrainedModel):
    config_class = PretrainedConfig

    @property
    def _supports_sdpa(self):  # as Prismatic's: reads a submodule that does not exist yet in __init__
        return self.language_model._supports_sdpa


class FakeVLA(FakeBase):
    pass
"""


def test_patch_turns_the_sdpa_property_into_a_class_attribute(tmp_path):
    (tmp_path / "modeling_fake.py").write_text(REMOTE)
    config = SimpleNamespace(auto_map={"AutoModelForVision2Seq": "modeling_fake.FakeVLA"})
    assert patch_remote_code(tmp_path, config) == ["FakeVLA._supports_sdpa"]
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    cls = get_class_from_dynamic_module("modeling_fake.FakeVLA", str(tmp_path), local_files_only=True)
    assert cls._supports_sdpa is True
    assert patch_remote_code(tmp_path, config) == []  # already a plain attribute
    assert patch_remote_code(tmp_path, SimpleNamespace()) == []


def test_device_and_dtype():
    dev, dt = pick_device_dtype()
    assert dt == (torch.bfloat16 if dev.type == "cuda" else torch.float32)
    assert pick_device_dtype("cpu", "bfloat16") == (torch.device("cpu"), torch.bfloat16)


def test_families():
    assert family_of(SimpleNamespace(model_type="openvla")) == "openvla"
    assert family_of(SimpleNamespace(model_type="llava")) == "llava"
    with pytest.raises(ValueError, match="openvla, llava"):
        family_of(SimpleNamespace(model_type="smolvlm"))
