"""The main job: imitate an expert from a few observation-only demonstrations, offline.

Build (or load) a local D4RL-style dataset and the expert's dataset, take the top ``experts`` expert
episodes as observation-only demonstrations, fit an ICVF encoder on the dataset's observations,
relabel every transition with AILOT and OTR rewards, train d3rlpy IQL on each (and on the true
rewards), train BC on the whole dataset and on the demonstrations (with the expert's actions), and
report D4RL normalized scores in the real env: one table, a PNG of learning curves and a PNG of the OT
coupling of one trajectory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sb3_ot import ot
from sb3_ot.data import Trajectory, build_dataset, load_trajectories, to_d3rlpy, top_episodes
from sb3_ot.encoders import ICVFEncoder
from sb3_ot.integrations.d3rlpy import make_algo, train_offline
from sb3_ot.rewards import AILOTRewarder, OTRRewarder, iql_reward_scale, relabel_for_offline

__all__ = ["ImitateConfig", "run_imitate"]

METHODS = ("IQL + AILOT", "IQL + OTR", "IQL + true reward", "BC (whole dataset)", "BC (expert demos)")


@dataclass
class ImitateConfig:
    """Settings of ``sb3-ot imitate`` (the defaults are the embedded default run)."""

    env: str = "InvertedPendulum-v5"
    dataset: str = "medium-replay"
    experts: int = 1
    rewarders: tuple[str, ...] = ("ailot", "otr", "true")
    steps: int = 3000
    eval_every: int = 500
    n_eval_episodes: int = 5
    seeds: tuple[int, ...] = (0,)
    dataset_steps: int | None = 20_000
    expert_steps: int | None = 8_000
    icvf_updates: int = 2000
    icvf_hidden: tuple[int, ...] = (256, 256)
    hidden: tuple[int, ...] = (256, 256)
    ailot_k: int = 2
    ailot_alpha: float = 1.0
    ailot_tau: float = 1.0
    ailot_eps: float = 0.01
    iql_preset: str = "locomotion"
    out_dir: str = "sb3_ot_imitate"
    wandb: bool = False
    progress: bool = True
    data_path: str | None = None


def _se(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _without_actions(trajs: Sequence[Trajectory]) -> list[Trajectory]:
    return [Trajectory(t.obs, None, None, terminated=t.terminated) for t in trajs]


def _plot_curves(curves: dict[str, list[list[tuple[int, float, float]]]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, runs in curves.items():
        steps = np.array([u for u, _, _ in runs[0]])
        scores = np.array([[s for _, _, s in run] for run in runs])
        mean = scores.mean(0)
        ax.plot(steps, mean, label=name)
        if len(runs) > 1:
            se = scores.std(0, ddof=1) / np.sqrt(len(runs))
            ax.fill_between(steps, mean - se, mean + se, alpha=0.2)
    ax.axhline(100, color="k", lw=0.8, ls="--")
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("updates")
    ax.set_ylabel("normalized score")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def run_imitate(cfg: ImitateConfig, *, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole imitation job; returns the table rows, curves and output paths."""
    t_start = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wandb_run = None
    if cfg.wandb:
        import os

        import wandb

        wandb_run = wandb.init(
            project="sb3-ot", config=asdict(cfg), dir=str(out), mode=os.environ.get("WANDB_MODE", "offline")
        )  # type: ignore[arg-type]

    # --- data
    kw = {"seed": 0, "expert_steps": cfg.expert_steps, "data_path": cfg.data_path, "progress": cfg.progress}
    if cfg.dataset_steps is not None:
        kw["steps"] = cfg.dataset_steps
    ds = build_dataset(cfg.env, cfg.dataset, **kw)
    expert_ds = build_dataset(cfg.env, "expert", **kw)
    lo, hi = ds.storage.metadata["ref_min_score"], ds.storage.metadata["ref_max_score"]
    trajs = load_trajectories(ds)
    expert_trajs = load_trajectories(expert_ds)
    full = max(len(t) for t in expert_trajs)
    demos_with_actions = top_episodes(expert_trajs, cfg.experts, min_steps=min(full, max(2, full // 2)))
    demos = _without_actions(demos_with_actions)
    echo(
        f"{cfg.env}: {cfg.dataset} dataset of {len(trajs)} episodes / {sum(len(t) for t in trajs)} steps; "
        f"{len(demos)} expert demo(s) of {[len(d) for d in demos]} steps (observations only)"
    )

    # --- rewards
    datasets: dict[str, Any] = {}
    timings: dict[str, float] = {}
    couple_rewarder = None
    if "ailot" in cfg.rewarders:
        t0 = time.perf_counter()
        encoder = ICVFEncoder(hidden_dims=cfg.icvf_hidden, seed=0).fit(
            trajs + demos, n_updates=cfg.icvf_updates, progress=cfg.progress
        )
        timings["ICVF fit"] = time.perf_counter() - t0
        rewarder = AILOTRewarder(
            encoder, k=cfg.ailot_k, alpha=cfg.ailot_alpha, tau=cfg.ailot_tau, eps=cfg.ailot_eps
        ).set_expert(demos)
        t0 = time.perf_counter()
        relabelled, _ = relabel_for_offline(trajs, rewarder, progress=cfg.progress)
        timings["AILOT relabel"] = time.perf_counter() - t0
        datasets["IQL + AILOT"] = to_d3rlpy(relabelled)
        couple_rewarder = rewarder
    if "otr" in cfg.rewarders:
        rewarder = OTRRewarder().set_expert(demos)
        t0 = time.perf_counter()
        relabelled, _ = relabel_for_offline(trajs, rewarder, progress=cfg.progress)
        timings["OTR relabel"] = time.perf_counter() - t0
        datasets["IQL + OTR"] = to_d3rlpy(relabelled)
        couple_rewarder = couple_rewarder or rewarder
    if "true" in cfg.rewarders:
        scale = iql_reward_scale([float(t.rews.sum()) for t in trajs])  # type: ignore[union-attr]
        datasets["IQL + true reward"] = to_d3rlpy(trajs, reward_fn=lambda t: t.rews * scale)  # type: ignore[operator]
    datasets["BC (whole dataset)"] = to_d3rlpy(trajs)
    datasets["BC (expert demos)"] = to_d3rlpy(demos_with_actions)

    # --- train and evaluate
    log = (lambda d: wandb_run.log(d)) if wandb_run is not None else None
    curves: dict[str, list[list[tuple[int, float, float]]]] = {}
    for name, mdp in datasets.items():
        for seed in cfg.seeds:
            algo = make_algo(
                "iql" if name.startswith("IQL") else "bc",
                preset=cfg.iql_preset,  # type: ignore[arg-type]
                hidden=cfg.hidden,
            )
            echo(f"training {name} (seed {seed}) for {cfg.steps} updates")
            run = train_offline(
                name,
                algo,
                mdp,
                cfg.env,
                n_steps=cfg.steps,
                eval_every=cfg.eval_every,
                n_eval_episodes=cfg.n_eval_episodes,
                ref_scores=(lo, hi),
                seed=seed,
                progress=cfg.progress,
                log=log,
            )
            curves.setdefault(name, []).append(run.curve)

    # --- table
    rows = []
    for name in METHODS:
        if name in curves:
            finals = [run[-1][2] for run in curves[name]]
            rows.append(
                {"method": name, "score": float(np.mean(finals)), "se": _se(finals), "n": len(finals)}
            )
    demo_returns = [float(t.rews.sum()) for t in demos_with_actions]  # type: ignore[union-attr]
    rows.append(
        {
            "method": "expert demos",
            "score": 100 * (np.mean(demo_returns) - lo) / (hi - lo),
            "se": 0.0,
            "n": len(demos),
        }
    )
    rows.append(
        {
            "method": "dataset (mean episode)",
            "score": 100 * (np.mean([t.rews.sum() for t in trajs]) - lo) / (hi - lo),
            "se": 0.0,
            "n": len(trajs),
        }
    )
    rows.append({"method": "random (ref_min)", "score": 0.0, "se": 0.0, "n": 100})
    rows.append({"method": "expert (ref_max)", "score": 100.0, "se": 0.0, "n": 100})
    echo("")
    echo(f"{'method':<24} {'normalized score':>18}")
    for r in rows:
        se = f" ± {r['se']:.1f}" if r["se"] else ""
        echo(f"{r['method']:<24} {r['score']:>10.1f}{se:<8}")

    # --- plots
    curves_png = _plot_curves(
        curves, out / "learning_curves.png", f"{cfg.env} {cfg.dataset}: IQL on OT rewards"
    )
    coupling_png = None
    if couple_rewarder is not None:
        from sb3_ot.ot.plot import plot_coupling

        x = torch.from_numpy(couple_rewarder.features(trajs[0].observations()))
        y = torch.from_numpy(couple_rewarder.experts[0])
        res = ot.sinkhorn(x, y, eps=couple_rewarder.eps, cost=couple_rewarder.cost, return_plan=True)
        coupling_png = plot_coupling(
            res.plan,
            res.row_cost,
            out / "coupling.png",
            title=f"{type(couple_rewarder).__name__}: dataset episode 0 vs expert demo",
        )
    echo(f"learning curves: {curves_png}" + (f"\ncoupling: {coupling_png}" if coupling_png else ""))
    total = time.perf_counter() - t_start
    echo(f"done in {total / 60:.1f} min")
    result = {
        "config": asdict(cfg),
        "rows": rows,
        "curves": curves,
        "timings": timings,
        "seconds": total,
        "learning_curves_png": str(curves_png),
        "coupling_png": str(coupling_png),
    }
    (out / "results.json").write_text(json.dumps(result, indent=1, default=float))
    if wandb_run is not None:
        import wandb

        wandb_run.log(
            {
                "scores": wandb.Table(
                    columns=["method", "score", "se"], data=[[r["method"], r["score"], r["se"]] for r in rows]
                )
            }
        )
        wandb_run.finish()
    return result
