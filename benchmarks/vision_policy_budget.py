"""What an image policy costs here: render rate, expert episode length, one training step on CPU.

Issue 26 asks for a policy that sees (agentview + wrist images, instruction, proprioception) trained
on 2 CPU cores; these numbers decide whether LeRobot's SmolVLA (from scratch, reduced) or the
reference Llama backbone with a small image encoder is trained, and how long demos take.

    MUJOCO_GL=egl .venv/bin/python benchmarks/vision_policy_budget.py env [--steps 40]
    MUJOCO_GL=egl .venv/bin/python benchmarks/vision_policy_budget.py expert [--episodes 10]
    .venv/bin/python benchmarks/vision_policy_budget.py train [--batch 32] [--threads 1]

``env``: LiberoEnv steps/s with agentview + wrist at 128, 96 and 64 px and without cameras (random
walk actions, libero_spatial task 0). ``expert``: the DART-noisy scripted expert's episode length on
libero_spatial (no cameras; init states 0.., tasks cycled). ``train``: seconds per optimiser step
(forward + backward + AdamW; wall and CPU seconds, the latter what an unshared core would take) of (a) LeRobot SmolVLA, reduced and randomly initialised, and (b) the
reference Llama backbone with a conv image encoder, both on two 128 px images (96 px for (a) too).
Results are printed as one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CAMERAS = ("agentview", "robot0_eye_in_hand")


def bench_env(steps: int) -> None:
    from mistvla.harness.envs.libero import LiberoEnv

    rng = np.random.default_rng(0)
    for cams, size in ((CAMERAS, 128), (CAMERAS, 96), (CAMERAS, 64), ((), 128)):
        env = LiberoEnv("libero_spatial", 0, cameras=cams, image_size=size, max_steps=10_000)
        env.reset(seed=0, options={"init_state": 0})
        acts = np.clip(np.cumsum(rng.normal(0, 0.15, (steps + 5, 7)), axis=0), -0.6, 0.6)
        for a in acts[:5]:
            env.step(a)
        t0 = time.perf_counter()
        for a in acts[5:]:
            env.step(a)
        dt = time.perf_counter() - t0
        env.close()
        print(json.dumps({"bench": "env", "cameras": list(cams), "size": size, "steps_per_s": steps / dt}))


def bench_expert(episodes: int) -> None:
    from mistvla.harness.datasets.demos import DemoConfig, collect_episode
    from mistvla.harness.envs.libero import LiberoEnv
    from mistvla.harness.envs.tasks import suite_object_names
    from mistvla.policies.scripted.expert import ScriptedExpert

    cfg = DemoConfig(name="bench")
    names = list(suite_object_names("libero_spatial"))
    lengths, wins = [], 0
    t0 = time.perf_counter()
    for i in range(episodes):
        task = i % 10
        env = LiberoEnv("libero_spatial", task, privileged=True)
        expert = ScriptedExpert(perturbation=cfg.noise())
        frames, ok, _ = collect_episode(env, expert, i // 10, 0, 1000 * task + i // 10, names, [])
        env.close()
        lengths.append(len(frames["action"]))
        wins += ok
    out = {"bench": "expert", "episodes": episodes, "success": wins, "mean_len": float(np.mean(lengths)),
           "max_len": int(max(lengths)), "lengths": lengths, "wall_s": time.perf_counter() - t0}  # fmt: skip
    print(json.dumps(out))


def _step_time(model_step, params, reps: int) -> float:
    import torch

    opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=1e-4)
    times = []
    for _ in range(reps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = model_step()
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = np.median(np.asarray(times[1:]), axis=0)
    return {"s_per_step": float(wall), "cpu_s_per_step": float(cpu)}


def bench_smolvla(batch: int, size: int, reps: int, spec_kw: dict) -> dict:
    import torch
    from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

    from mistvla.policies.testing.tiny_smolvla import TinySmolVLASpec, build_tiny_smolvla

    spec = TinySmolVLASpec(image_size=size, freeze_vision_encoder=False, train_expert_only=False, **spec_kw)
    with tempfile.TemporaryDirectory() as tmp:
        policy = SmolVLAPolicy.from_pretrained(build_tiny_smolvla(tmp, spec))
    policy.train()
    g = torch.Generator().manual_seed(0)
    lang = torch.randint(0, 300, (batch, spec.tokenizer_max_length), generator=g)
    data = {k: torch.rand(batch, 3, size, size, generator=g) for k in spec.image_keys}
    data |= {"observation.state": torch.randn(batch, 8, generator=g),
             "action": torch.randn(batch, spec.chunk_size, 7, generator=g),
             "observation.language.tokens": lang,
             "observation.language.attention_mask": torch.ones_like(lang, dtype=torch.bool)}  # fmt: skip
    n_params = sum(p.numel() for p in policy.parameters())
    trained = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    sec = _step_time(lambda: policy.forward(data)[0], list(policy.parameters()), reps)
    return {"bench": "train", "model": "smolvla", "size": size, "batch": batch, "params": n_params,
            "trained_params": trained, **sec, "spec": spec_kw}  # fmt: skip


def bench_reference_conv(batch: int, size: int, reps: int, hidden: int, layers: int) -> dict:
    import torch
    import torch.nn as nn
    from transformers import LlamaConfig, LlamaModel

    def conv_encoder() -> nn.Module:  # 128 px -> 8x8 tokens (stride 16), as a small patch/conv stem
        c = hidden // 4
        return nn.Sequential(
            nn.Conv2d(3, c, 5, 2, 2), nn.GELU(), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.GELU(),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.GELU(), nn.Conv2d(4 * c, hidden, 3, 2, 1),
        )  # fmt: skip

    enc = nn.ModuleList([conv_encoder(), conv_encoder()])
    cfg = LlamaConfig(vocab_size=200, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512)  # fmt: skip
    cfg._attn_implementation = "sdpa"
    llm = LlamaModel(cfg)
    head = nn.Linear(hidden, 7 * 10)
    g = torch.Generator().manual_seed(0)
    imgs = [torch.rand(batch, 3, size, size, generator=g) for _ in range(2)]
    target = torch.randn(batch, 70, generator=g)
    params = [*enc.parameters(), *llm.parameters(), *head.parameters()]

    def step():
        toks = [e(x).flatten(2).transpose(1, 2) for e, x in zip(enc, imgs, strict=True)]
        emb = torch.cat([*toks, torch.zeros(batch, 3, hidden)], dim=1)
        out = llm(inputs_embeds=emb, use_cache=False).last_hidden_state[:, -1]
        return ((head(out) - target) ** 2).mean()

    sec = _step_time(step, params, reps)
    return {"bench": "train", "model": "reference_conv", "size": size, "batch": batch, "hidden": hidden,
            "layers": layers, "params": sum(p.numel() for p in params), **sec}  # fmt: skip


SMOLVLA_REDUCED = {
    "text_hidden": 256, "text_layers": 8, "heads": 4, "kv_heads": 2, "head_dim": 64,
    "vision_hidden": 192, "vision_layers": 4, "patch_size": 16, "chunk_size": 10, "n_action_steps": 5,
    "num_steps": 10, "tokenizer_max_length": 32,
}  # fmt: skip
"""The reduced SmolVLA measured: 8 VLM layers of width 256, a 4-layer SigLIP of width 192, 16 px patches."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["env", "expert", "train"])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.what == "env":
        bench_env(args.steps)
    elif args.what == "expert":
        bench_expert(args.episodes)
    else:
        import torch

        torch.set_num_threads(args.threads)
        small = {
            **SMOLVLA_REDUCED,
            "text_hidden": 128,
            "text_layers": 4,
            "vision_hidden": 96,
            "vision_layers": 2,
        }
        for size, kw in ((128, SMOLVLA_REDUCED), (128, small), (96, small)):
            print(json.dumps(bench_smolvla(args.batch, size, args.reps, kw)), flush=True)
        for hidden, layers in ((256, 4), (128, 4)):
            print(json.dumps(bench_reference_conv(args.batch, 128, args.reps, hidden, layers)), flush=True)


if __name__ == "__main__":
    main()
