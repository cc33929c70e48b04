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
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sb3_ot._args import check_choice, check_float, check_int
from sb3_ot._files import atomic_write, write_text
from sb3_ot.data import (
    Trajectory,
    build_dataset,
    load_trajectories,
    normalized_score,
    to_d3rlpy,
    top_episodes,
)
from sb3_ot.datasets.kinds import KINDS
from sb3_ot.encoders import ICVFEncoder
from sb3_ot.integrations.d3rlpy import IQL_PRESETS, make_algo, train_offline
from sb3_ot.rewards import AILOTRewarder, OTRewarder, OTRRewarder, iql_reward_scale, relabel_for_offline

__all__ = ["ImitateConfig", "run_imitate"]

METHODS = ("IQL + AILOT", "IQL + OTR", "IQL + true reward", "BC (whole dataset)", "BC (expert demos)")
REWARDERS = ("ailot", "otr", "true")
Curve = list[tuple[int, float, float]]  # (update, mean return, normalized score)


@dataclass(frozen=True)
class ImitateConfig:
    """Settings of ``sb3-ot imitate`` (the defaults are the embedded default run).

    Every value is checked on construction, before any data is built or any expert trained.
    """

    env: str = "InvertedPendulum-v5"
    dataset: str = "medium-replay"
    experts: int = 1
    rewarders: tuple[str, ...] = REWARDERS
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
    device: str | None = None  # ICVF, the OT rewards and d3rlpy; None: the CPU
    wandb: bool = False
    progress: bool = True
    data_path: str | None = None

    def __post_init__(self) -> None:
        func = "ImitateConfig"
        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"{func}: env must be a Gymnasium env id; got {self.env!r}")
        check_choice(self.dataset, "dataset", func, KINDS)
        check_choice(self.iql_preset, "iql_preset", func, tuple(IQL_PRESETS))
        for name in ("experts", "steps", "eval_every", "n_eval_episodes", "icvf_updates"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        for name in ("dataset_steps", "expert_steps"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        object.__setattr__(self, "ailot_k", check_int(self.ailot_k, "ailot_k", func, minimum=0))
        check_float(self.ailot_tau, "ailot_tau", func)
        check_float(self.ailot_eps, "ailot_eps", func)
        check_float(self.ailot_alpha, "ailot_alpha", func)
        self._check_tuples(func)
        self._check_device(func)

    def _check_device(self, func: str) -> None:
        if self.device is None:
            return
        import torch

        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"{func}: device must name a torch device ('cpu', 'cuda', 'cuda:1'); got {self.device!r}"
            ) from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{func}: device {self.device!r} asked for, but torch sees no CUDA device here")

    def _check_tuples(self, func: str) -> None:
        rewarders = tuple(self.rewarders)
        if not rewarders:
            raise ValueError(f"{func}: rewarders must name at least one of {list(REWARDERS)}; got ()")
        for r in rewarders:
            check_choice(r, "rewarders", func, REWARDERS)
        seeds = tuple(check_int(s, "seeds", func, minimum=0) for s in self.seeds)
        if not seeds:
            raise ValueError(f"{func}: seeds must hold at least one seed; got ()")
        object.__setattr__(self, "rewarders", rewarders)
        object.__setattr__(self, "seeds", seeds)
        for name in ("icvf_hidden", "hidden"):
            widths = tuple(check_int(w, name, func) for w in getattr(self, name))
            if not widths:
                raise ValueError(f"{func}: {name} must hold at least one layer width; got ()")
            object.__setattr__(self, name, widths)


@dataclass
class _Data:
    """The dataset, the demonstrations and the reference returns of one run."""

    trajs: list[Trajectory]
    demos_with_actions: list[Trajectory]
    ref: tuple[float, float]  # (random, expert) returns

    @property
    def demos(self) -> list[Trajectory]:
        """The demonstrations as the rewarders see them: observations only."""
        return [Trajectory(t.obs, None, None, terminated=t.terminated) for t in self.demos_with_actions]


@dataclass
class _Relabelled:
    datasets: dict[str, Any] = field(default_factory=dict)  # method -> d3rlpy MDPDataset
    timings: dict[str, float] = field(default_factory=dict)
    coupling_rewarder: OTRewarder | None = None


def _se(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _load_data(cfg: ImitateConfig, echo: Callable[[str], None]) -> _Data:
    """Build (or reuse) the dataset and the expert's dataset; keep the top episodes as demonstrations."""
    kw: dict[str, Any] = {"seed": 0, "expert_steps": cfg.expert_steps, "data_path": cfg.data_path}
    kw |= {"progress": cfg.progress} | ({"steps": cfg.dataset_steps} if cfg.dataset_steps is not None else {})
    ds = build_dataset(cfg.env, cfg.dataset, **kw)
    expert_trajs = load_trajectories(build_dataset(cfg.env, "expert", **kw))
    full = max(len(t) for t in expert_trajs)  # demos are whole episodes, not the cut last one
    demos = top_episodes(expert_trajs, cfg.experts, min_steps=min(full, max(2, full // 2)))
    data = _Data(
        load_trajectories(ds),
        demos,
        (ds.storage.metadata["ref_min_score"], ds.storage.metadata["ref_max_score"]),
    )
    echo(
        f"{cfg.env}: {cfg.dataset} dataset of {len(data.trajs)} episodes / {sum(len(t) for t in data.trajs)} "
        f"steps; {len(demos)} expert demo(s) of {[len(d) for d in demos]} steps (observations only)"
    )
    return data


def _relabel(cfg: ImitateConfig, data: _Data) -> _Relabelled:
    """The d3rlpy datasets each method trains on: OT-relabelled, true-reward and BC data."""
    out = _Relabelled()
    rewarders: dict[str, Callable[[], OTRewarder]] = {
        "ailot": lambda: _ailot_rewarder(cfg, data, out.timings),
        "otr": lambda: OTRRewarder(device=cfg.device).set_expert(data.demos),
    }
    for key, make in rewarders.items():
        if key in cfg.rewarders:
            name = f"IQL + {key.upper()}"
            rewarder = make()
            t0 = time.perf_counter()
            relabelled, _ = relabel_for_offline(data.trajs, rewarder, progress=cfg.progress)
            out.timings[f"{key.upper()} relabel"] = time.perf_counter() - t0
            out.datasets[name] = to_d3rlpy(relabelled)
            out.coupling_rewarder = out.coupling_rewarder or rewarder
    if "true" in cfg.rewarders:
        scale = iql_reward_scale([float(t.rews.sum()) for t in data.trajs])  # type: ignore[union-attr]
        out.datasets["IQL + true reward"] = to_d3rlpy(data.trajs, reward_fn=lambda t: t.rews * scale)  # type: ignore[operator]
    out.datasets["BC (whole dataset)"] = to_d3rlpy(data.trajs)
    out.datasets["BC (expert demos)"] = to_d3rlpy(data.demos_with_actions)
    return out


def _ailot_rewarder(cfg: ImitateConfig, data: _Data, timings: dict[str, float]) -> AILOTRewarder:
    t0 = time.perf_counter()
    encoder = ICVFEncoder(hidden_dims=cfg.icvf_hidden, seed=0, device=cfg.device).fit(
        data.trajs + data.demos, n_updates=cfg.icvf_updates, progress=cfg.progress
    )
    timings["ICVF fit"] = time.perf_counter() - t0
    return AILOTRewarder(
        encoder, k=cfg.ailot_k, alpha=cfg.ailot_alpha, tau=cfg.ailot_tau, eps=cfg.ailot_eps
    ).set_expert(data.demos)


def _train_all(
    cfg: ImitateConfig,
    relabelled: _Relabelled,
    data: _Data,
    log: Callable | None,
    echo: Callable[[str], None],
) -> dict[str, list[Curve]]:
    """Train IQL / BC on every dataset and seed, evaluated in the real env as they learn."""
    curves: dict[str, list[Curve]] = {}
    for name, mdp in relabelled.datasets.items():
        for seed in cfg.seeds:
            kind = "iql" if name.startswith("IQL") else "bc"
            algo = make_algo(
                kind, preset=cfg.iql_preset, hidden=cfg.hidden, device=_d3rlpy_device(cfg.device)
            )  # type: ignore[arg-type]
            echo(f"training {name} (seed {seed}) for {cfg.steps} updates")
            run = train_offline(
                name, algo, mdp, cfg.env, n_steps=cfg.steps, eval_every=cfg.eval_every,
                n_eval_episodes=cfg.n_eval_episodes, ref_scores=data.ref, seed=seed, progress=cfg.progress, log=log,
            )  # fmt: skip
            curves.setdefault(name, []).append(run.curve)
    return curves


def _d3rlpy_device(device: str | None) -> str:
    """d3rlpy names devices ``cpu:0`` / ``cuda:0``."""
    if device is None or device == "cpu":
        return "cpu:0"
    return device if ":" in device else f"{device}:0"


def _table(curves: dict[str, list[Curve]], data: _Data) -> list[dict[str, Any]]:
    """One row per method (mean and standard error of the final scores), then the reference rows."""
    rows = []
    for name in METHODS:
        if name in curves:
            finals = [run[-1][2] for run in curves[name]]
            rows.append(
                {"method": name, "score": float(np.mean(finals)), "se": _se(finals), "n": len(finals)}
            )
    reference = {
        "expert demos": (
            [float(t.rews.sum()) for t in data.demos_with_actions],
            len(data.demos_with_actions),
        ),  # type: ignore[union-attr]
        "dataset (mean episode)": ([float(t.rews.sum()) for t in data.trajs], len(data.trajs)),  # type: ignore[union-attr]
        "random (ref_min)": ([data.ref[0]], 100),
        "expert (ref_max)": ([data.ref[1]], 100),
    }
    for name, (returns, n) in reference.items():
        rows.append({"method": name, "score": normalized_score(returns, *data.ref), "se": 0.0, "n": n})
    return rows


def _print_table(rows: list[dict[str, Any]], echo: Callable[[str], None]) -> None:
    echo("")
    echo(f"{'method':<24} {'normalized score':>18}")
    for r in rows:
        se = f" ± {r['se']:.1f}" if r["se"] else ""
        echo(f"{r['method']:<24} {r['score']:>10.1f}{se:<8}")


def _plot_curves(curves: dict[str, list[Curve]], path: Path, title: str) -> Path:
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
    ax.set(xlabel="updates", ylabel="normalized score", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def _plot_coupling(rewarder: OTRewarder | None, data: _Data, out: Path) -> Path | None:
    """The plan the rewarder's rewards of dataset episode 0 came from (start alignment included)."""
    if rewarder is None:
        return None
    from sb3_ot.ot.plot import plot_coupling

    coupling = rewarder.coupling(data.trajs[0])
    title = f"{type(rewarder).__name__}: dataset episode 0 vs expert demo {coupling.expert}"
    return plot_coupling(coupling.plan.cpu(), coupling.row_cost.cpu(), out / "coupling.png", title=title)


def _start_wandb(cfg: ImitateConfig, out: Path) -> Any:
    if not cfg.wandb:
        return None
    import wandb

    mode = os.environ.get("WANDB_MODE", "offline")
    return wandb.init(project="sb3-ot", config=asdict(cfg), dir=str(out), mode=mode)  # type: ignore[arg-type]


def _finish_wandb(run: Any, rows: list[dict[str, Any]]) -> None:
    if run is None:
        return
    import wandb

    table = wandb.Table(
        columns=["method", "score", "se"], data=[[r["method"], r["score"], r["se"]] for r in rows]
    )
    run.log({"scores": table})
    run.finish()


def run_imitate(cfg: ImitateConfig, *, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole imitation job; returns the table rows, curves and output paths."""
    t_start = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wandb_run = _start_wandb(cfg, out)
    data = _load_data(cfg, echo)
    relabelled = _relabel(cfg, data)
    log = wandb_run.log if wandb_run is not None else None
    curves = _train_all(cfg, relabelled, data, log, echo)
    rows = _table(curves, data)
    _print_table(rows, echo)
    curves_png = _plot_curves(
        curves, out / "learning_curves.png", f"{cfg.env} {cfg.dataset}: IQL on OT rewards"
    )
    coupling_png = _plot_coupling(relabelled.coupling_rewarder, data, out)
    echo(f"learning curves: {curves_png}" + (f"\ncoupling: {coupling_png}" if coupling_png else ""))
    total = time.perf_counter() - t_start
    echo(f"done in {total / 60:.1f} min")
    result = {
        "config": asdict(cfg),
        "rows": rows,
        "curves": curves,
        "timings": relabelled.timings,
        "seconds": total,
        "learning_curves_png": str(curves_png),
        "coupling_png": str(coupling_png),
    }
    write_text(out / "results.json", json.dumps(result, indent=1, default=float))
    _finish_wandb(wandb_run, rows)
    return result
