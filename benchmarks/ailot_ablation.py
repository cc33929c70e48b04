"""AILOT hyperparameter ablation: k, tau, eps (alpha cancels), scored by how well the OT rewards rank
the dataset's episodes.

For each env's dataset, an ICVF encoder (the ``sb3-ot imitate`` settings) is fitted once; one expert
episode is the demonstration. Each setting relabels the whole dataset and is scored by the Spearman
rank correlation between an episode's AILOT return and its true return (what IQL's advantage weighting
needs: better episodes must earn more), plus the per-step Spearman on envs whose step reward carries
signal. One setting changes at a time from the defaults (k 2, tau 1, eps 0.01). ``alpha`` is checked
to cancel under IQL's ``1000 / (max - min return)`` scaling rather than swept.

This is a proxy that runs in minutes; the full IQL comparison of the defaults is ``imitation_suite.py``.

Usage: python benchmarks/ailot_ablation.py [--envs ENV:KIND ...] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _report import provenance, write_block
from scipy.stats import spearmanr

from sb3_ot.data import build_dataset, load_trajectories, top_episodes
from sb3_ot.encoders import ICVFEncoder
from sb3_ot.imitate import ImitateConfig
from sb3_ot.rewards import AILOTRewarder, relabel_for_offline

DEFAULT_ENVS = [
    "InvertedPendulum-v5:medium-replay",
    "Pendulum-v1:medium-expert",
    "HalfCheetah-v5:medium-replay",
]
DEFAULTS = dict(k=2, tau=1.0, eps=0.01)
GRID = {"k": [1, 2, 4, 8], "tau": [0.3, 1.0, 3.0, 10.0], "eps": [0.003, 0.01, 0.03, 0.1]}


def settings() -> list[dict]:
    out = [dict(DEFAULTS)]
    for name, values in GRID.items():
        for v in values:
            s = {**DEFAULTS, name: v}
            if s not in out:
                out.append(s)
    return out


def run(envs: list[str]) -> list[dict]:
    cfg = ImitateConfig()
    rows = []
    for spec in envs:
        env, _, kind = spec.partition(":")
        kw = {"seed": 0, "progress": False}
        if env == cfg.env:
            kw.update(steps=cfg.dataset_steps, expert_steps=cfg.expert_steps)
        trajs = load_trajectories(build_dataset(env, kind, **kw))
        experts = load_trajectories(build_dataset(env, "expert", **kw))
        demo = top_episodes(experts, 1)
        true_ret = np.array([t.rews.sum() for t in trajs])
        step_rews = np.concatenate([t.rews for t in trajs])
        t0 = time.perf_counter()
        encoder = ICVFEncoder(hidden_dims=cfg.icvf_hidden, seed=0).fit(
            trajs + demo, n_updates=cfg.icvf_updates, progress=False
        )
        fit_s = time.perf_counter() - t0
        for s in settings():
            rewarder = AILOTRewarder(encoder, k=s["k"], tau=s["tau"], eps=s["eps"]).set_expert(demo)
            t0 = time.perf_counter()
            relabelled, _ = relabel_for_offline(trajs, rewarder)
            secs = time.perf_counter() - t0
            ot_ret = np.array([t.rews.sum() for t in relabelled])
            ot_step = np.concatenate([t.rews for t in relabelled])
            rho_ep = float(spearmanr(ot_ret, true_ret).statistic)
            rho_step = (
                float(spearmanr(ot_step, step_rews).statistic) if np.ptp(step_rews) > 0 else float("nan")
            )
            row = dict(
                env=env, kind=kind, **s, rho_episode=rho_ep, rho_step=rho_step, seconds=secs, fit_s=fit_s
            )
            rows.append(row)
            print(
                f"{env:20s} k={s['k']} tau={s['tau']:<5g} eps={s['eps']:<6g} episode rho {rho_ep:+.3f}  "
                f"step rho {rho_step:+.3f}  ({secs:.1f} s)",
                flush=True,
            )
        # alpha cancels under the IQL scaling: same scaled rewards for alpha 1 and 5
        r1, _ = relabel_for_offline(trajs, AILOTRewarder(encoder, alpha=1.0).set_expert(demo))
        r5, _ = relabel_for_offline(trajs, AILOTRewarder(encoder, alpha=5.0).set_expert(demo))
        diff = max(float(np.abs(a.rews - b.rews).max()) for a, b in zip(r1, r5, strict=True))
        print(f"{env}: alpha 1 vs 5 after IQL scaling, max reward difference {diff:.1e}", flush=True)
        for row in rows:
            if row["env"] == env:
                row["alpha_diff"] = diff
    return rows


def write_markdown(path: Path, rows: list[dict], command: str) -> None:
    envs = list(dict.fromkeys(r["env"] for r in rows))
    lines = [
        "## AILOT ablation (reward quality proxy)",
        *provenance(command),
        "Spearman rank correlation between each dataset episode's AILOT return and its true return (per-step "
        "correlation in brackets where the env's step reward varies), one expert demo, ICVF (256, 256) "
        "fitted once per env with the `sb3-ot imitate` settings. One setting changes at a time from the "
        "defaults (**bold**). `alpha` is not swept: under IQL's `1000 / (max - min return)` scaling it "
        "cancels exactly (largest reward difference between alpha 1 and 5: "
        + ", ".join(f"{e} {next(r['alpha_diff'] for r in rows if r['env'] == e):.0e}" for e in envs)
        + ").",
        "",
        "| k | tau | eps | "
        + " | ".join(f"{e} ({next(r['kind'] for r in rows if r['env'] == e)})" for e in envs)
        + " | mean episode rho |",
        "|---|---|---|" + "---|" * (len(envs) + 1),
    ]
    for s in settings():
        cells, rhos = [], []
        for e in envs:
            r = next(r for r in rows if r["env"] == e and all(r[n] == s[n] for n in DEFAULTS))
            rhos.append(r["rho_episode"])
            step = "" if np.isnan(r["rho_step"]) else f" ({r['rho_step']:+.2f})"
            cells.append(f"{r['rho_episode']:+.2f}{step}")
        bold = "**" if s == DEFAULTS else ""
        lines.append(
            f"| {bold}{s['k']}{bold} | {bold}{s['tau']:g}{bold} | {bold}{s['eps']:g}{bold} | "
            + " | ".join(cells)
            + f" | {np.mean(rhos):+.3f} |"
        )
    write_block(path, "ailot_ablation", lines, "Benchmarks")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, help="ENV:KIND pairs")
    p.add_argument("--write", type=Path, default=None)
    args = p.parse_args()
    rows = run(args.envs)
    if args.write:
        write_markdown(args.write, rows, "python " + " ".join(sys.argv))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
