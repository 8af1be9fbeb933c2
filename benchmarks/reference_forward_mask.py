"""The reference policy's forward with the prepared causal mask vs transformers' per-forward mask.

transformers 4.57 builds the causal mask with ``vmap`` in every forward; for the shipped 0.7M-parameter
reference model on CPU that dominated the forward (profile: ``benchmarks/episode_profile.py``). The model
now passes a cached 4-D mask with the same values (bit-identical outputs, tests/policies/test_reference_policy.py).
Alternating blocks in one process, batch 1, one thread; prints medians and the ratio.

    .venv/bin/python benchmarks/reference_forward_mask.py [--blocks 7] [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mistvla.policies.reference.policy import ReferencePolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="experiments/artifacts/reference/libero_spatial")
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = ReferencePolicy(args.checkpoint).model.eval()
    cfg = model.config
    ids = torch.randint(1, cfg.vocab_size, (1, cfg.prompt_length))
    state, env = torch.randn(1, cfg.state_dim), torch.randn(1, cfg.env_dim)

    def own() -> torch.Tensor:
        out = model.language_model(inputs_embeds=model.embed(ids, state, env), use_cache=False)
        return model.action_head(out.last_hidden_state[:, -1])

    def prepared() -> torch.Tensor:
        return model(ids, state, env)

    times: dict[str, list[float]] = {"transformers' mask": [], "prepared mask": []}
    with torch.no_grad():
        assert torch.equal(own(), prepared())
        for _ in range(args.blocks):
            for name, fn in (("transformers' mask", own), ("prepared mask", prepared)):
                t0 = time.perf_counter()
                for _ in range(args.calls):
                    fn()
                times[name].append((time.perf_counter() - t0) / args.calls)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:20s} {1000 * v:7.3f} ms / forward")
    base, ours = med["transformers' mask"], med["prepared mask"]
    print(f"speed-up: {base / ours:.2f}x")


if __name__ == "__main__":
    main()
