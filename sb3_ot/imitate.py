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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sb3_ot._args import check_choice, check_device, check_float, check_int, check_seeds, check_widths
from sb3_ot._files import write_text
from sb3_ot._pipeline import Curve, finish_wandb, plot_curves, print_table, score_rows, start_wandb
from sb3_ot.data import to_d3rlpy
from sb3_ot.datasets.demos import DatasetWithDemos, load_with_demos
from sb3_ot.datasets.kinds import KINDS
from sb3_ot.encoders import ICVFEncoder
from sb3_ot.integrations.d3rlpy import IQL_PRESETS, d3rlpy_device, make_algo, train_offline
from sb3_ot.rewards import AILOTRewarder, OTRewarder, OTRRewarder, iql_reward_scale, relabel_for_offline

__all__ = ["ImitateConfig", "run_imitate"]

METHODS = ("IQL + AILOT", "IQL + OTR", "IQL + true reward", "BC (whole dataset)", "BC (expert demos)")
REWARDERS = ("ailot", "otr", "true")


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
        check_device(self.device, func)

    def _check_tuples(self, func: str) -> None:
        rewarders = tuple(self.rewarders)
        if not rewarders:
            raise ValueError(f"{func}: rewarders must name at least one of {list(REWARDERS)}; got ()")
        for r in rewarders:
            check_choice(r, "rewarders", func, REWARDERS)
        seeds = check_seeds(self.seeds, func)
        object.__setattr__(self, "rewarders", rewarders)
        object.__setattr__(self, "seeds", seeds)
        for name in ("icvf_hidden", "hidden"):
            object.__setattr__(self, name, check_widths(getattr(self, name), name, func))


@dataclass
class _Relabelled:
    datasets: dict[str, Any] = field(default_factory=dict)  # method -> d3rlpy MDPDataset
    timings: dict[str, float] = field(default_factory=dict)
    coupling_rewarder: OTRewarder | None = None


def _load_data(cfg: ImitateConfig, echo: Callable[[str], None]) -> DatasetWithDemos:
    """Build (or reuse) the dataset and the expert's dataset; keep the top episodes as demonstrations."""
    data = load_with_demos(
        cfg.env, cfg.dataset, cfg.experts, steps=cfg.dataset_steps, expert_steps=cfg.expert_steps,
        data_path=cfg.data_path, progress=cfg.progress,
    )  # fmt: skip
    echo(data.describe(cfg.env, cfg.dataset) + " (observations only)")
    return data


def _relabel(cfg: ImitateConfig, data: DatasetWithDemos) -> _Relabelled:
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


def _ailot_rewarder(cfg: ImitateConfig, data: DatasetWithDemos, timings: dict[str, float]) -> AILOTRewarder:
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
    data: DatasetWithDemos,
    log: Callable | None,
    echo: Callable[[str], None],
) -> dict[str, list[Curve]]:
    """Train IQL / BC on every dataset and seed, evaluated in the real env as they learn."""
    curves: dict[str, list[Curve]] = {}
    for name, mdp in relabelled.datasets.items():
        for seed in cfg.seeds:
            kind = "iql" if name.startswith("IQL") else "bc"
            algo = make_algo(kind, preset=cfg.iql_preset, hidden=cfg.hidden, device=d3rlpy_device(cfg.device))  # type: ignore[arg-type]
            echo(f"training {name} (seed {seed}) for {cfg.steps} updates")
            run = train_offline(
                name, algo, mdp, cfg.env, n_steps=cfg.steps, eval_every=cfg.eval_every,
                n_eval_episodes=cfg.n_eval_episodes, ref_scores=data.ref, seed=seed, progress=cfg.progress, log=log,
            )  # fmt: skip
            curves.setdefault(name, []).append(run.curve)
    return curves


def _table(curves: dict[str, list[Curve]], data: DatasetWithDemos) -> list[dict[str, Any]]:
    """One row per method (mean and standard error of the final scores), then the reference rows."""
    demo_returns = [float(t.rews.sum()) for t in data.demos_with_actions]  # type: ignore[union-attr]
    reference = {
        "expert demos": (demo_returns, len(demo_returns)),
        "dataset (mean episode)": ([float(t.rews.sum()) for t in data.trajs], len(data.trajs)),  # type: ignore[union-attr]
        "random (ref_min)": ([data.ref[0]], 100),
        "expert (ref_max)": ([data.ref[1]], 100),
    }
    return score_rows(curves, METHODS, reference, data.ref)


def _plot_coupling(rewarder: OTRewarder | None, data: DatasetWithDemos, out: Path) -> Path | None:
    """The plan the rewarder's rewards of dataset episode 0 came from (start alignment included)."""
    if rewarder is None:
        return None
    from sb3_ot.ot.plot import plot_coupling

    coupling = rewarder.coupling(data.trajs[0])
    title = f"{type(rewarder).__name__}: dataset episode 0 vs expert demo {coupling.expert}"
    return plot_coupling(coupling.plan.cpu(), coupling.row_cost.cpu(), out / "coupling.png", title=title)


def run_imitate(cfg: ImitateConfig, *, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole imitation job; returns the table rows, curves and output paths."""
    t_start = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wandb_run = start_wandb(cfg.wandb, asdict(cfg), out)
    data = _load_data(cfg, echo)
    relabelled = _relabel(cfg, data)
    log = wandb_run.log if wandb_run is not None else None
    curves = _train_all(cfg, relabelled, data, log, echo)
    rows = _table(curves, data)
    print_table(rows, echo)
    curves_png = plot_curves(
        [(curves, "updates")], out / "learning_curves.png", f"{cfg.env} {cfg.dataset}: IQL on OT rewards"
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
    finish_wandb(wandb_run, rows)
    return result
