"""Hook overhead: forward time with capture (and capture + steering) over the same forward without hooks.

A random Llava (OpenVLA-like: Llama text model, hidden size >= 1024) runs
(a) one forward over a prompt-length sequence (a policy step's prefill),
(b) a whole policy step (prefill + 6 decode calls with the KV cache, as
``OpenVLAPolicy`` decodes 7 action tokens), (c) one one-token forward with the
hooks entered and popped around it alone (the worst case for fixed costs). Conditions are interleaved in a shuffled order
within each repetition so that load changes on a shared machine hit all of
them alike; the report gives medians and the median of per-repetition ratios.
Hook sessions are built once and entered and left around every timed call, as
the policy does per step.

Targets: capture < 2 %, capture + steering < 5 % over no hooks.

    .venv/bin/python benchmarks/hook_overhead.py --hidden 1024 --layers 4 --reps 30
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import time

import numpy as np
import torch
from transformers import LlavaForConditionalGeneration

from mistvla.hooks import CaptureSpec, SteeringSpec, capture, steer
from mistvla.policies.openvla.loading import greedy_decode
from mistvla.policies.testing.tiny_llava import build_tokenizer, tiny_llava_config


def build_model(hidden: int, layers: int) -> LlavaForConditionalGeneration:
    """A random Llava with a ``hidden``-wide, ``layers``-deep Llama text model."""
    torch.manual_seed(0)
    config = tiny_llava_config(build_tokenizer(), hidden_size=hidden, num_layers=layers)
    return LlavaForConditionalGeneration(config).eval()


def conditions(model: torch.nn.Module, layers: int, hidden: int) -> dict[str, object]:
    """name -> factory of the context to run the forward in."""
    mid = f"llm.blocks.{layers // 2}.resid_post"
    cap_spec = CaptureSpec((mid, "llm.final_norm"), ("last_prompt", "generated", "mean"))
    vec = np.random.default_rng(0).normal(size=hidden)
    steer_spec = SteeringSpec({mid: vec}, alpha=0.1, mode="relative", positions="all")

    # Built once and entered per call, as OpenVLAPolicy does per step (name resolution is not timed).
    cap, ste = capture(model, cap_spec), steer(model, steer_spec)

    @contextlib.contextmanager
    def cap_and_steer():
        with ste, cap:
            yield
            cap.pop()

    @contextlib.contextmanager
    def cap_only():
        with cap:
            yield
            cap.pop()

    return {"none": contextlib.nullcontext, "capture": cap_only, "capture+steer": cap_and_steer}


def measure(run: object, conds: dict[str, object], reps: int, clock: str) -> dict[str, list[float]]:
    """Seconds per forward for each condition, interleaved and shuffled per repetition.

    ``clock="cpu"`` is this process's CPU time (not charged while other processes
    hold the cores; meaningful with one thread), ``"wall"`` the elapsed time.
    """
    now = time.process_time if clock == "cpu" else time.perf_counter
    times: dict[str, list[float]] = {k: [] for k in conds}
    rng = random.Random(0)
    order = list(conds)
    with torch.inference_mode():
        for _ in range(3):  # warm-up
            for k in order:
                with conds[k]():
                    run()
        for _ in range(reps):
            rng.shuffle(order)
            for k in order:
                t0 = now()
                with conds[k]():
                    run()
                times[k].append(now() - t0)
    return times


def summarize(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Median time and overhead vs ``none``: ratio of medians, median of paired ratios, ratio of minima.

    Other processes on a shared machine only ever add time, so the ratio of
    minima is the least noisy of the three.
    """
    base = times["none"]
    out = {}
    for k, ts in times.items():
        paired = [t / b for t, b in zip(ts, base, strict=True)]
        out[k] = {
            "median_ms": 1000 * statistics.median(ts),
            "ratio_of_medians": statistics.median(ts) / statistics.median(base),
            "median_paired_ratio": statistics.median(paired),
            "ratio_of_mins": min(ts) / min(base),
        }
    return out


def hook_call_cost(hidden: int, length: int, n: int = 2000) -> dict[str, float]:
    """CPU microseconds of one capture / relative-steering hook call on a (1, T, hidden) tensor."""
    from mistvla.hooks.capture import _PointRecorder
    from mistvla.hooks.steering import _Adder

    out = {}
    spec = SteeringSpec({"p": np.ones(hidden)}, alpha=0.1, mode="relative")
    for t in (length, 1):
        h = torch.randn(1, t, hidden)
        for name, fn in (
            ("capture", _PointRecorder(("last_prompt", "generated", "mean"))),
            ("steer", _Adder("p", np.ones(hidden, dtype=np.float32), spec)),
        ):
            t0 = time.process_time()
            for _ in range(n):
                fn(h)
            out[f"{name}_T{t}"] = 1e6 * (time.process_time() - t0) / n
    return out


def main() -> None:
    """Run both scenarios and print a table plus JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--reps", type=int, default=30, help="repetitions of the prompt-length forward")
    ap.add_argument("--token-reps", type=int, default=200, help="repetitions of the one-token forward")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is meaningful)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.hidden < 1024:
        raise SystemExit("use --hidden >= 1024 (overhead is relative to the forward's cost)")
    model = build_model(args.hidden, args.layers)
    conds = conditions(model, args.layers, args.hidden)
    gen = torch.Generator().manual_seed(0)
    results = {}
    ids = torch.randint(3, 300, (1, args.prompt_len), generator=gen)
    scenarios = {
        # one forward over the prompt (a policy step's prefill)
        "prefill": (lambda: model(input_ids=ids), args.reps),
        # a whole policy step: prefill + 6 one-token decode calls with the KV cache
        "step": (lambda: greedy_decode(model, {"input_ids": ids}, 7), args.reps),
        # one decode-sized forward, hooks entered and popped around it alone (worst case)
        "one_token": (lambda: model(input_ids=ids[:, :1]), args.token_reps),
    }
    for scenario, (run, reps) in scenarios.items():
        results[scenario] = summarize(measure(run, conds, reps, args.clock))
    print(
        f"hidden={args.hidden} layers={args.layers} prompt_len={args.prompt_len} reps={args.reps} "
        f"threads={torch.get_num_threads()} clock={args.clock}"
    )
    print(f"{'scenario':<10} {'condition':<14} {'median ms':>10} {'ratio':>8} {'paired':>8} {'min':>8}")
    for scenario, rows in results.items():
        for k, r in rows.items():
            print(
                f"{scenario:<10} {k:<14} {r['median_ms']:>10.2f} {r['ratio_of_medians']:>8.4f} "
                f"{r['median_paired_ratio']:>8.4f} {r['ratio_of_mins']:>8.4f}"
            )
    results["hook_call_us"] = hook_call_cost(args.hidden, args.prompt_len)
    print("one hook call, microseconds:", json.dumps(results["hook_call_us"]))
    print(json.dumps({"args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
