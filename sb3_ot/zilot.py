"""The ``sb3-ot zilot`` pipeline: goal-conditioned data, the goal model, then ZILOT and its myopic
baselines on the paper's goal-sequence tasks, one table.

1. **Data**: the env's local datasets (:func:`~sb3_ot.datasets.build_dataset`, scripted experts),
   ``expert``, ``medium`` (the scripted expert with epsilon-random actions) and ``random`` episodes
   interleaved for Fetch (the official code zips WGCSL's expert + random buffers; FetchPickAndPlace
   adds ``noisy``, the expert with Gaussian action noise), the ``expert`` maze data for PointMaze; no
   expert of the *task* is ever shown: ZILOT is zero-shot.
2. **Goal model** (:class:`~sb3_ot.planners.GoalModel`) at a size preset (``cpu`` or ``paper``), saved
   as ``goal_model.pt`` and reused by a rerun with the same settings and data (``model`` loads another).
3. **Evaluation**: each method (:data:`~sb3_ot.planners.METHODS`) and seed runs ``n_episodes`` episodes
   cycling through the tasks and their variants (:func:`~sb3_ot.planners.make_task`), each from the
   first goal (:func:`~sb3_ot.planners.reset_to_first_goal`); W_min and GoalFraction per episode
   (:class:`~sb3_ot.planners.GoalTracker`), planning time per env step and its OT share.

Outputs in ``out_dir``: ``goal_model.pt``, ``paths.png`` (each method's first episode against the goals),
``results.json``; wandb (offline) with ``wandb=True``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sb3_ot._args import check_choice, check_int, check_seeds, with_overrides
from sb3_ot._files import atomic_write, write_text

__all__ = [
    "ENV_PRESETS",
    "GOAL_MODEL_PRESETS",
    "PLANNER_PRESETS",
    "ZilotConfig",
    "interleave",
    "read_config_file",
    "run_zilot",
]

#: Per env: the goal model's value scale (the env's episode length) and relabelling discount, the
#: planner's settings per size preset (``paper``: the official ones), the data kinds and, where they
#: differ from ``sb3_ot.planners.PRESETS``'s, the goal model's updates per size preset (docs/zilot.md).
ENV_PRESETS: dict[str, dict[str, Any]] = {
    "FetchPush-v4": {
        "value_scale": 50.0,
        "relabel_discount": 0.975,
        "planner": {"paper": {"horizon": 16}, "cpu": {"horizon": 16}},
        "kinds": ("expert", "medium", "random"),
    },
    "FetchPickAndPlace-v4": {
        "value_scale": 50.0,
        "relabel_discount": 0.975,
        "planner": {"paper": {"horizon": 16}, "cpu": {"horizon": 16}},
        # + the picker with Gaussian action noise: grasps `medium`'s random fingers never make (docs/zilot.md)
        "kinds": ("expert", "noisy", "medium", "random"),
    },
    "PointMaze_Medium-v3": {
        "value_scale": 600.0,
        "relabel_discount": 0.995,
        # the official horizon 64 plans at 0.46 s per step on one core; 32 x 128 at 0.10 (docs/zilot.md)
        "planner": {"paper": {"horizon": 64}, "cpu": {"horizon": 32, "population": 128}},
        "kinds": ("expert",),
        # the goal model's updates where they differ from the preset's: 10,000 train in 19-26 min in one
        # thread here, the preset's 40,000 in 69-104 (over the hour per env; docs/zilot.md)
        "updates": {"cpu": 10_000},
    },
}

#: The goal model's settings that results.json (and benchmarks/zilot.py's blocks) name.
_REPORTED_SETTINGS = (
    "latent_dim",
    "mlp_dim",
    "n_q",
    "value_scale",
    "td_action",
    "value_bins",
    "value_units",
    "w_expectile",
)

#: The planner at each size preset: ``paper`` is the official iCEM and its 500 fixed Sinkhorn
#: iterations; ``cpu`` plans within the issue's 0.25 s per env step on 2 cores (docs/zilot.md).
PLANNER_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"population": 512, "elites": 6, "iterations": 4, "sinkhorn_iters": 500},
    "cpu": {"population": 256, "elites": 6, "iterations": 3, "sinkhorn_iters": None},
}

#: The goal model's settings at each size preset on top of ``sb3_ot.planners.PRESETS`` (which a
#: ``GoalModel`` built directly keeps): at ``cpu``, ``W`` at the 0.98 expectile times the data's faster
#: paths between goals, not its mean pace (Fetch's half-random data; the maze data's follower, 3.7-4.9x
#: slower than one aimed at the goals; docs/zilot.md). ``paper`` is the official squared error.
GOAL_MODEL_PRESETS: dict[str, dict[str, Any]] = {"paper": {}, "cpu": {"w_expectile": 0.98}}


@dataclass(frozen=True)
class ZilotConfig:
    """Settings of ``sb3-ot zilot`` (defaults: FetchPush-v4 at the ``cpu`` preset, one seed)."""

    env: str = "FetchPush-v4"
    tasks: tuple[str, ...] = ()  # empty: every task of the env (task_names)
    methods: tuple[str, ...] = ("zilot", "mpc+cls", "pi+cls")
    seeds: tuple[int, ...] = (0,)
    n_episodes: int = 20  # per method and seed, cycling through the tasks and their variants
    preset: str = "cpu"
    dataset_steps: int = 100_000  # transitions per data kind
    n_updates: int | None = None  # the goal model's; None: ENV_PRESETS' at the preset, else the preset's
    model: str | None = None  # a saved GoalModel to use instead of training one
    goal_model: dict[str, Any] = field(default_factory=dict)  # GoalModelConfig overrides (+ n_updates)
    planner: dict[str, Any] = field(default_factory=dict)  # PlannerConfig overrides of the preset's
    out_dir: str = "sb3_ot_zilot"
    data_path: str | None = None
    device: str | None = None
    progress: bool = True
    wandb: bool = False

    def __post_init__(self) -> None:
        from sb3_ot.planners.model import PRESETS, GoalModelConfig
        from sb3_ot.planners.planner import METHODS, PlannerConfig
        from sb3_ot.planners.tasks import task_names

        func = "ZilotConfig"
        check_choice(self.env, "env", func, tuple(ENV_PRESETS))
        check_choice(self.preset, "preset", func, tuple(PRESETS))
        for name, choices in (("tasks", task_names(self.env)), ("methods", METHODS)):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            for value in getattr(self, name):
                check_choice(value, f"{name}[...]", func, choices)
        if not self.methods:
            raise ValueError(f"{func}: methods must name at least one of {METHODS}; got none")
        object.__setattr__(self, "seeds", check_seeds(self.seeds, func))
        for name in ("n_episodes", "dataset_steps") + (("n_updates",) if self.n_updates is not None else ()):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        object.__setattr__(self, "planner", dict(self.planner))
        object.__setattr__(self, "goal_model", dict(self.goal_model))
        with_overrides(PlannerConfig(), self.planner_settings, "ZilotConfig.planner")  # checked up front
        with_overrides(GoalModelConfig(), self.model_settings, "ZilotConfig.goal_model")
        check_int(self.updates, "goal_model['n_updates']", func)
        if self.model is not None and not Path(self.model).is_file():
            raise ValueError(f"{func}: model {self.model!r} is not a file (a GoalModel.save checkpoint)")

    @property
    def model_settings(self) -> dict[str, Any]:
        """The goal model's size and the env's value settings."""
        from sb3_ot.planners.model import PRESETS

        env = ENV_PRESETS[self.env]
        values = {"value_scale": env["value_scale"], "relabel_discount": env["relabel_discount"]}
        tuned = dict(GOAL_MODEL_PRESETS[self.preset])
        if self.goal_model.get("value_bins"):  # a two-hot W has no expectile: the preset's yields
            tuned.pop("w_expectile", None)
        settings = PRESETS[self.preset] | values | tuned
        return {k: v for k, v in (settings | self.goal_model).items() if k != "n_updates"}

    @property
    def updates(self) -> int:
        from sb3_ot.planners.model import PRESETS

        env = ENV_PRESETS[self.env].get("updates", {}).get(self.preset)
        return self.n_updates or self.goal_model.get("n_updates") or env or PRESETS[self.preset]["n_updates"]

    @property
    def planner_settings(self) -> dict[str, Any]:
        return (
            PLANNER_PRESETS[self.preset] | ENV_PRESETS[self.env]["planner"][self.preset] | dict(self.planner)
        )


def read_config_file(path: str | Path, env: str) -> dict[str, Any]:
    """``env``'s entry of a zoo-style YAML file (``zoo_configs/zilot.yml``: env id -> ``goal_model`` and
    ``planner`` settings) as :class:`ZilotConfig` keywords."""
    import yaml

    func = "read_config_file"
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{func}: config file {str(path)!r} not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or env not in data:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{func}: {str(path)!r} has no entry for {env!r}; it has {found}")
    entry = data[env] or {}
    unknown = set(entry) - {"goal_model", "planner"}
    if unknown:
        raise ValueError(
            f"{func}: {str(path)!r} [{env}] has unknown keys {sorted(unknown)}; expected goal_model, planner"
        )
    return {k: dict(entry.get(k) or {}) for k in ("goal_model", "planner")}


def _load_data(cfg: ZilotConfig, echo: Callable[[str], None]) -> list[Any]:
    """The env's data kinds, built locally if missing, their episodes interleaved (as the official
    loader zips the expert and random buffers)."""
    from sb3_ot.data import load_trajectories
    from sb3_ot.datasets import build_dataset

    parts = []
    for kind in ENV_PRESETS[cfg.env]["kinds"]:
        ds = build_dataset(
            cfg.env, kind, steps=cfg.dataset_steps, data_path=cfg.data_path, progress=cfg.progress
        )
        parts.append(load_trajectories(ds))
        echo(f"data: {cfg.env} {kind}: {len(parts[-1])} episodes, {sum(len(t) for t in parts[-1])} steps")
    return interleave(parts)


def interleave(parts: list[list[Any]]) -> list[Any]:
    """The episodes of ``parts`` taken in turn (the first of each, then the second...), as the official
    loader zips the expert and random buffers."""
    longest = max(len(p) for p in parts)
    return [p[i] for i in range(longest) for p in parts if i < len(p)]


def _data_settings(cfg: ZilotConfig) -> dict[str, Any]:
    """What the goal model learns from, recorded beside ``goal_model.pt`` (the model's file has no record)."""
    return {"env": cfg.env, "kinds": list(ENV_PRESETS[cfg.env]["kinds"]), "dataset_steps": cfg.dataset_steps}


def _goal_model(cfg: ZilotConfig, out: Path, echo: Callable[[str], None]) -> Any:
    """The goal model: ``cfg.model`` if given, ``out/goal_model.pt`` if trained with these settings and
    data (``goal_model.data.json``), else trained now (and saved)."""
    from sb3_ot.planners.model import GoalModel

    if cfg.model is not None:
        return GoalModel.load(cfg.model, device=cfg.device)
    path = out / "goal_model.pt"
    settings = cfg.model_settings
    data_path, data = path.with_suffix(".data.json"), _data_settings(cfg)
    if path.is_file():
        same_data = data_path.is_file() and data_path.read_text() == json.dumps(data)
        model = GoalModel.load(path, device=cfg.device) if same_data else None  # the cheap check first
        same = model is not None and all(getattr(model.config, k) == v for k, v in settings.items())
        if same and model.env_id == cfg.env and model.n_updates == cfg.updates:
            echo(f"goal model: {path} (reused: same settings, {model.n_updates} updates)")
            return model
        echo(f"goal model: {path} has other settings or data ({data_path.name}); training a new one")
    t0 = time.perf_counter()
    model = GoalModel(env_id=cfg.env, seed=cfg.seeds[0], device=cfg.device, **settings)
    model.fit(_load_data(cfg, echo), n_updates=cfg.updates, progress=cfg.progress)
    model.save(path)
    write_text(data_path, json.dumps(data))  # a model of other data is not reused
    echo(f"goal model: {cfg.updates} updates in {(time.perf_counter() - t0) / 60:.1f} min -> {path}")
    return model


def _episode_tasks(cfg: ZilotConfig) -> list[Any]:
    """``n_episodes`` tasks: the task names in turn, each name's variants counting up."""
    from sb3_ot.planners.tasks import make_task, task_names

    names = cfg.tasks or task_names(cfg.env)
    return [make_task(cfg.env, names[e % len(names)], variant=e // len(names)) for e in range(cfg.n_episodes)]


def _run_episode(policy: Any, env: Any, task: Any, seed: int, keep_path: bool) -> dict[str, Any]:
    """One episode of ``task`` from its first goal: the metrics, the planning time per step and its
    OT share (and the achieved goals with ``keep_path``)."""
    from sb3_ot.planners.tasks import GoalTracker, reset_to_first_goal

    policy.set_expert(task.goals)  # a fresh episode at the next predict
    obs = reset_to_first_goal(env, task, seed)
    tracker = GoalTracker(task, obs["achieved_goal"])
    ot_before, times = policy.planner.timings["ot"], []
    for _ in range(task.max_steps):
        t0 = time.perf_counter()
        action, _ = policy.predict(obs)
        times.append(time.perf_counter() - t0)
        obs, *_ = env.step(action)
        tracker.update(obs["achieved_goal"])
    out = {
        "task": task.name,
        "variant": task.variant,
        "w_min": tracker.w_min,
        "goal_fraction": tracker.goal_fraction,
        "success": tracker.success,
        "step_seconds": float(np.median(times)),
        "plan_seconds": float(np.sum(times)),
        "ot_seconds": policy.planner.timings["ot"] - ot_before,
    }
    return out | ({"path": tracker.history.tolist()} if keep_path else {})


def _evaluate(cfg: ZilotConfig, model: Any, tasks: list[Any], echo: Callable[[str], None]) -> dict[str, Any]:
    """Every method and seed on every task: ``{method: [[episode results] per seed]}``."""
    from tqdm.auto import tqdm

    from sb3_ot.data.envs import make_env
    from sb3_ot.planners.policy import ZILOTPolicy

    env = make_env(cfg.env, max_episode_steps=max(t.max_steps for t in tasks))  # TimeLimit stays quiet
    results: dict[str, Any] = {}
    try:
        for method in cfg.methods:
            results[method] = []
            for seed in cfg.seeds:
                policy = ZILOTPolicy(
                    model,
                    env.observation_space,
                    env.action_space,
                    method=method,
                    seed=seed,
                    **cfg.planner_settings,
                )
                bar = tqdm(tasks, desc=f"{method} seed {seed}", disable=not cfg.progress, unit="episode")
                episodes = [
                    _run_episode(policy, env, task, 10_000 * seed + e, keep_path=e == 0)
                    for e, task in enumerate(bar)
                ]
                results[method].append(episodes)
                w, gf = (
                    np.mean([e["w_min"] for e in episodes]),
                    np.mean([e["goal_fraction"] for e in episodes]),
                )
                echo(f"{method} seed {seed}: W_min {w:.3f}, GoalFraction {gf:.2f}")
    finally:
        env.close()
    return results


def _rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method: W_min and GoalFraction (mean over seeds of each seed's episode mean, ± standard error),
    success rate, median planning seconds per env step and the OT share of planning."""
    from sb3_ot._pipeline import standard_error

    rows = []
    for method, seeds in results.items():
        w = [float(np.mean([e["w_min"] for e in eps])) for eps in seeds]
        gf = [float(np.mean([e["goal_fraction"] for e in eps])) for eps in seeds]
        episodes = [e for eps in seeds for e in eps]
        plan = sum(e["plan_seconds"] for e in episodes)
        rows.append(
            {
                "method": method,
                "w_min": float(np.mean(w)),
                "w_min_se": standard_error(w),
                "goal_fraction": float(np.mean(gf)),
                "goal_fraction_se": standard_error(gf),
                "success": float(np.mean([e["success"] for e in episodes])),
                "step_seconds": float(np.median([e["step_seconds"] for e in episodes])),
                "ot_share": sum(e["ot_seconds"] for e in episodes) / plan if plan > 0 else 0.0,
                "episodes": len(episodes),
            }
        )
    return rows


def _print_rows(rows: list[dict[str, Any]], echo: Callable[[str], None]) -> None:
    echo("")
    echo(f"{'method':<10} {'W_min':>16} {'GoalFraction':>16} {'success':>8} {'s/step':>8} {'OT share':>9}")
    for r in rows:
        echo(
            f"{r['method']:<10} {r['w_min']:>8.3f} ± {r['w_min_se']:<5.3f} {r['goal_fraction']:>8.2f} ± "
            f"{r['goal_fraction_se']:<5.2f} {r['success']:>8.2f} {r['step_seconds']:>8.3f} {r['ot_share']:>9.0%}"
        )


def _plot_paths(results: dict[str, Any], task: Any, path: Path) -> Path:
    """Each method's first episode (the achieved goals' xy) against the goals of that task; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot(task.goals[:, 0], task.goals[:, 1], "k--o", ms=5, lw=1, label=f"goals ({task.name})")
    for method, seeds in results.items():
        xy = np.asarray(seeds[0][0]["path"])
        ax.plot(xy[:, 0], xy[:, 1], lw=1.5, label=method)
    ax.set(xlabel="x", ylabel="y", aspect="equal", title="first episode, seed of the first run")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def run_zilot(cfg: ZilotConfig, *, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole job (data, goal model, every method on the tasks, table, plot); returns the rows,
    per-episode results and paths (also written to ``results.json``)."""
    from sb3_ot._pipeline import finish_wandb, start_wandb

    t_start = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wandb_run = start_wandb(cfg.wandb, asdict(cfg), out)
    model = _goal_model(cfg, out, echo)
    tasks = _episode_tasks(cfg)
    results = _evaluate(cfg, model, tasks, echo)
    rows = _rows(results)
    _print_rows(rows, echo)
    png = _plot_paths(results, tasks[0], out / "paths.png")
    total = time.perf_counter() - t_start
    echo(f"paths: {png}\ndone in {total / 60:.1f} min")
    result = {
        "config": asdict(cfg),
        "rows": rows,
        "episodes": results,
        "seconds": total,
        "goal_model": cfg.model or str(out / "goal_model.pt"),
        "model_settings": {k: getattr(model.config, k) for k in _REPORTED_SETTINGS},
        "updates": model.n_updates,
        "planner": cfg.planner_settings,
        "paths_png": str(png),
    }
    write_text(out / "results.json", json.dumps(result, indent=1, default=float))
    finish_wandb(wandb_run, rows)
    return result
