"""Imitation quality on the benchmark suite: IQL on AILOT, OTR and true rewards, BC baselines.

For every env, ``sb3_ot.imitate.run_imitate`` runs the whole job (local dataset, top expert episode as
an observation-only demo, ICVF, AILOT and OTR relabelling, IQL, BC) with the same updates and the same
seeds for every method, and this script tabulates the final D4RL normalized scores (mean and standard
error over seeds), the averages over envs, and AILOT's ratio to IQL on the true rewards. The learning
curves of each env are copied to ``docs/img/imitation_<env>.png``.

Usage: python benchmarks/imitation_suite.py [--envs ENV:KIND ...] [--seeds 0 1 2] [--steps 5000]
       [--resume] [--write docs/benchmarks.md]

Each env's result is saved as soon as it finishes; ``--resume`` continues an interrupted suite.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from _report import provenance, write_block

from sb3_ot._files import atomic_write, write_text
from sb3_ot.imitate import METHODS, ImitateConfig, run_imitate

DEFAULT_ENVS = [
    "InvertedPendulum-v5:medium-replay",
    "Pendulum-v1:medium-expert",
    "HalfCheetah-v5:medium-replay",
]
ROOT = Path(__file__).resolve().parents[1]


def _se(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def run(
    envs: list[str], seeds: list[int], steps: int, eval_every: int, out: Path, resume: bool
) -> list[dict]:
    """Runs each env (results saved to ``out/suite.json`` after each); ``resume`` keeps the envs already
    there that were run with the same seeds and steps."""
    done_file = out / "suite.json"
    saved = json.loads(done_file.read_text()) if resume and done_file.exists() else []
    results = []
    for spec in envs:
        env, _, kind = spec.partition(":")
        prev = next(
            (
                r
                for r in saved
                if r["env"] == env
                and r["kind"] == (kind or "medium-replay")
                and r.get("seeds") == list(seeds)
                and r.get("steps") == steps
            ),
            None,
        )
        if prev is not None:
            print(f"{env}: reusing the saved result", flush=True)
            results.append(prev)
            continue
        default = ImitateConfig()
        cfg = ImitateConfig(
            env=env,
            dataset=kind or "medium-replay",
            seeds=tuple(seeds),
            steps=steps,
            eval_every=eval_every,
            # the embedded sizes belong to the default env; other envs use the suite's datasets
            dataset_steps=default.dataset_steps if env == default.env else None,
            expert_steps=default.expert_steps if env == default.env else None,
            out_dir=str(out / env),
            progress=False,
        )
        t0 = time.perf_counter()
        res = run_imitate(cfg)
        finals = {name: [run[-1][2] for run in runs] for name, runs in res["curves"].items()}
        img = ROOT / "docs" / "img" / f"imitation_{env}.png"
        with atomic_write(img) as tmp:
            shutil.copyfile(res["learning_curves_png"], tmp)
        results.append(
            dict(
                env=env,
                kind=cfg.dataset,
                seeds=list(seeds),
                steps=steps,
                finals=finals,
                seconds=time.perf_counter() - t0,
                img=str(img),
            )
        )
        write_text(done_file, json.dumps(results, indent=1))  # atomic: --resume never reads half a file
        print(
            f"{env} {cfg.dataset}: "
            + ", ".join(f"{k} {np.mean(v):.1f} ± {_se(v):.1f}" for k, v in finals.items()),
            flush=True,
        )
    return results


def summary(results: list[dict]) -> dict[str, float]:
    """Per-method mean over envs of the per-env mean; AILOT / true as the ratio of those means."""
    means = {
        m: float(np.mean([np.mean(r["finals"][m]) for r in results]))
        for m in METHODS
        if all(m in r["finals"] for r in results)
    }
    return means


def write_markdown(path: Path, results: list[dict], seeds: list[int], steps: int, command: str) -> None:
    means = summary(results)
    lines = [
        "## Imitation quality (offline: IQL on OT rewards)",
        *provenance(command),
        f"D4RL normalized scores (0 = uniform random actions, 100 = the expert policy) after {steps:,} "
        f"updates, mean ± standard error over seeds {', '.join(map(str, seeds))}; every method has the same "
        "updates and seeds. One expert episode (the best of the expert dataset) is the demonstration, "
        "observations only; BC on expert demos also gets its actions. IQL: d3rlpy, (256, 256), the "
        "locomotion preset (expectile 0.7, temperature 3). Each evaluation is 5 episodes.",
        "",
        "| env | dataset | " + " | ".join(METHODS) + " | AILOT / true |",
        "|---|---|" + "---|" * (len(METHODS) + 1),
    ]
    for r in results:
        cells = [
            f"{np.mean(r['finals'][m]):.1f} ± {_se(r['finals'][m]):.1f}" if m in r["finals"] else "-"
            for m in METHODS
        ]
        ratio = np.mean(r["finals"]["IQL + AILOT"]) / max(np.mean(r["finals"]["IQL + true reward"]), 1e-9)
        lines.append(f"| {r['env']} | {r['kind']} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    ratio = means["IQL + AILOT"] / max(means["IQL + true reward"], 1e-9)
    lines.append(
        "| **mean over envs** | | "
        + " | ".join(f"**{means[m]:.1f}**" for m in METHODS)
        + f" | **{ratio:.2f}** |"
    )
    lines += ["", "Learning curves: " + ", ".join(f"`docs/img/imitation_{r['env']}.png`" for r in results)]
    write_block(path, "imitation_suite", lines, "Benchmarks")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, help="ENV:KIND pairs")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / ".cache" / "imitation_suite")
    p.add_argument("--resume", action="store_true", help="keep envs already in OUT/suite.json")
    p.add_argument("--write", type=Path, default=None)
    args = p.parse_args()
    results = run(args.envs, args.seeds, args.steps, args.eval_every, args.out, args.resume)
    means = summary(results)
    print("mean over envs: " + ", ".join(f"{k} {v:.1f}" for k, v in means.items()))
    if args.write:
        write_markdown(args.write, results, args.seeds, args.steps, "python " + " ".join(sys.argv))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
