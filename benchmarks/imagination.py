"""Imagination benchmarks (issue 13), section by section; this first section: world-model accuracy.

**World-model k-step error.** A :class:`~sb3_ot.world_models.WorldModel` is fitted on an env's data and
its open-loop k-step prediction error (k = 1, 5, 15) on held-out episodes is put beside the "repeat the
last observation" baseline on the same (t, t + k) pairs: mean squared error per observation dimension,
in raw observation units. A model worth imagining in must beat the baseline clearly at every k.

Data: ``random`` rollouts of the env (uniform actions, seeded), so that nothing needs an expert.

Usage: python benchmarks/imagination.py [--envs Pendulum-v1] [--updates 2000] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import torch
from _report import machine, write_block

from sb3_ot.data import rollout
from sb3_ot.world_models import WorldModel

#: A model small enough to fit in minutes on 2 CPU cores (the defaults are sized for a GPU or patience).
CPU_PRESET = {"latent_dim": 32, "hidden": (128, 128), "n_heads": 5, "batch_size": 128, "lr": 1e-3}


def model_errors(env_id: str, episodes: int, steps: int, updates: int, seed: int) -> dict:
    """Fit the CPU-preset model on random rollouts; k-step errors on its held-out episodes."""
    trajs = rollout(env_id, None, n_episodes=episodes, max_steps=steps, seed=seed)
    t0 = time.perf_counter()
    model = WorldModel(seed=seed, **CPU_PRESET).fit(trajs, n_updates=updates, progress=True)
    fit_s = time.perf_counter() - t0
    errors = model.prediction_error(ks=(1, 5, 15))
    for k, e in errors.items():
        print(
            f"{env_id} k={k:2d}: model {e['model']:.4g}  repeat-last {e['repeat_last']:.4g}  ({e['pairs']} pairs)"
        )
    return {
        "env": env_id,
        "episodes": episodes,
        "steps": steps,
        "updates": updates,
        "fit_s": fit_s,
        "errors": errors,
    }


def markdown(results: list[dict], command: str) -> list[str]:
    lines = [
        "## World-model k-step prediction error (`benchmarks/imagination.py`)",
        "",
        f"Command: `{command}`  ",
        f"Date: {dt.date.today().isoformat()}  ",
        f"Machine: {machine()}",
        "",
        f"`WorldModel` with the CPU preset {CPU_PRESET}, fitted on uniform-random rollouts; held-out "
        "episodes (10%). Mean squared error per observation dimension of the open-loop k-step prediction "
        "(encode o_t, k steps of the ensemble mean with the true actions, decode) beside repeating o_t.",
        "",
        "| env | data | updates (fit time) | k | model | repeat last obs | model / baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        data = f"{r['episodes']} x {r['steps']} steps"
        for k, e in r["errors"].items():
            ratio = e["model"] / e["repeat_last"] if e["repeat_last"] else float("nan")
            lines.append(
                f"| {r['env']} | {data} | {r['updates']} ({r['fit_s']:.0f} s) | {k} | {e['model']:.4g} | "
                f"{e['repeat_last']:.4g} | {ratio:.3f} |"
            )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["Pendulum-v1"])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--updates", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write", type=Path, default=None)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    results = [model_errors(e, args.episodes, args.steps, args.updates, args.seed) for e in args.envs]
    if args.write:
        write_block(
            args.write,
            "imagination_model_errors",
            markdown(results, "python " + " ".join(sys.argv)),
            "Benchmarks",
        )
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
