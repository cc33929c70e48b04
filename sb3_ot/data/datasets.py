"""D4RL-style local datasets: ``random``, ``medium``, ``expert``, ``medium-replay``, ``medium-expert``.

Each is an ordinary local Minari dataset ``sb3_ot/<env_id>/<kind>-v0`` with ``ref_min_score`` (uniform
random actions) and ``ref_max_score`` (the expert), so :func:`minari.get_normalized_score` gives
D4RL-style normalized scores, and episode boundaries that keep terminations apart from time-outs.

Where the data comes from:

* **Trained experts** (any env with a Box action space): :func:`~sb3_ot.data.experts.train_expert`.
  ``expert`` and ``medium`` are rollouts of the expert and medium policies, sampling their stochastic
  actions as D4RL did; ``medium-replay`` is every transition the training run collected before the
  medium policy was saved (its size is set by training, not by ``steps``).
* **Scripted experts** (``PointMaze_*``): :class:`~sb3_ot.data.scripted.MazeWaypointController`. A
  controller has no training run, so the learning curve is made explicit: a ladder of epsilon-random
  versions of it (epsilon 1.0, 0.975, ..., 0.2, 0.0) is evaluated, ``medium`` is the rung closest to the
  medium fraction, and ``medium-replay`` is ``steps`` transitions spread evenly over the rungs from
  random up to medium, in that order (what an improving learner would have collected).
* ``random`` is uniform random actions; ``medium-expert`` is ``medium`` followed by ``expert``.

A dataset that exists with the same build settings is reused; different settings need ``overwrite``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import minari
import numpy as np
from stable_baselines3.common.utils import set_random_seed

from sb3_ot._home import cache_home
from sb3_ot.data.envs import ensure_registered, make_env
from sb3_ot.data.experts import ExpertRun, expert_config, train_expert
from sb3_ot.data.minari_io import (
    _datasets_root,
    _minari_root,
    _open_dataset,
    load_trajectories,
    read_build_info,
    save_minari,
)
from sb3_ot.data.rollout import Policy, episode_returns, rollout
from sb3_ot.data.scripted import MazeWaypointController, epsilon_policy, is_scripted
from sb3_ot.data.trajectory import Trajectory

__all__ = [
    "KINDS",
    "SUITES",
    "build_dataset",
    "build_suite",
    "dataset_id",
    "dataset_info",
    "list_datasets",
    "top_episodes",
]

#: D4RL's dataset kinds.
KINDS = ("random", "medium", "expert", "medium-replay", "medium-expert")
NAMESPACE = "sb3_ot"
#: Default number of transitions of the ``random``/``medium``/``expert`` datasets of an env.
DEFAULT_STEPS = {"Pendulum-v1": 20_000}
_FALLBACK_STEPS = 100_000
#: Named benchmark suites: env ids whose datasets (all kinds) are built together.
SUITES: dict[str, tuple[str, ...]] = {
    "small": ("Pendulum-v1", "HalfCheetah-v5", "PointMaze_Medium-v3"),
}
# the scripted "learning curve"; finer near random, where a PD controller's return climbs fastest
_EPSILONS = (1.0, 0.975, 0.95, 0.925, 0.9, 0.85, 0.8, 0.7, 0.6, 0.4, 0.2, 0.0)


def dataset_id(env_id: str, kind: str, version: int = 0) -> str:
    """``sb3_ot/<env_id>/<kind>-v<version>``."""
    _check_kind(kind)
    return f"{NAMESPACE}/{env_id}/{kind}-v{version}"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {list(KINDS)}; got {kind!r}")


def _kind_seed(seed: int, kind: str) -> int:
    return int(np.random.SeedSequence([seed, KINDS.index(kind)]).generate_state(1)[0] % (2**31 - 10**7))


# ----------------------------------------------------------------------------- scripted source
@dataclass(frozen=True)
class _ScriptedSource:
    """A scripted expert and its epsilon ladder, evaluated once and cached as JSON."""

    env_id: str
    seed: int
    random_return: float
    expert_return: float
    ladder: dict[float, float]  # epsilon -> mean return
    medium_epsilon: float
    medium_fraction: float

    def policy(self, epsilon: float, env) -> Policy:
        return epsilon_policy(MazeWaypointController(env), env.action_space, epsilon)

    @classmethod
    def load(
        cls, env_id: str, seed: int, medium_fraction: float, n_ref_episodes: int, home: Path, progress: bool
    ) -> _ScriptedSource:
        path = home / "scripted" / env_id / f"seed{seed}-f{medium_fraction:.4f}-n{n_ref_episodes}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            data["ladder"] = {float(k): v for k, v in data["ladder"].items()}
            return cls(**data)
        env = make_env(env_id)
        try:
            ladder = {}
            for i, eps in enumerate(_EPSILONS):
                n = n_ref_episodes if eps in (0.0, 1.0) else max(10, n_ref_episodes // 10)
                policy = (
                    None if eps == 1.0 else epsilon_policy(MazeWaypointController(env), env.action_space, eps)
                )
                returns = episode_returns(
                    env, policy, n_episodes=n, seed=40_000 + 1000 * i + seed, progress=progress
                )
                ladder[eps] = float(np.mean(returns))
        finally:
            env.close()
        random_return, expert_return = ladder[1.0], ladder[0.0]
        target = random_return + medium_fraction * (expert_return - random_return)
        medium = min((e for e in _EPSILONS if 0.0 < e < 1.0), key=lambda e: (abs(ladder[e] - target), e))
        src = cls(env_id, seed, random_return, expert_return, ladder, medium, medium_fraction)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(
            json.dumps({**src.__dict__, "ladder": {str(k): v for k, v in ladder.items()}}, indent=1)
        )
        os.replace(tmp, path)
        return src


# ----------------------------------------------------------------------------- build
def _collect(
    env_id: str, kind: str, steps: int, seed: int, source: ExpertRun | _ScriptedSource, progress: bool
) -> tuple[list[Trajectory], dict[str, Any]]:
    """The trajectories of one kind (not ``medium-expert``) and what made them."""
    kseed = _kind_seed(seed, kind)
    set_random_seed(kseed)  # stochastic SB3 actions draw from torch's generator
    env = make_env(env_id)
    info_keys = ("success",) if is_scripted(env_id) else ()
    try:
        if kind == "random":
            return rollout(
                env,
                None,
                n_episodes=None,
                total_steps=steps,
                seed=kseed,
                info_keys=info_keys,
                progress=progress,
            ), {"policy": "uniform random actions"}
        if isinstance(source, ExpertRun):
            if kind == "medium-replay":
                return source.replay(), {
                    "policy": f"{source.algo} training run, steps [0, {source.medium_step})"
                }
            which = "expert" if kind == "expert" else "medium"
            step = source.expert_step if which == "expert" else source.medium_step
            return rollout(
                env,
                source.policy(which, deterministic=False),
                n_episodes=None,
                total_steps=steps,
                seed=kseed,
                progress=progress,
            ), {"policy": f"{source.algo} {which} policy (training step {step}), stochastic actions"}
        if kind == "medium-replay":
            rungs = [e for e in _EPSILONS if e >= source.medium_epsilon]
            shares = np.diff(np.linspace(0, steps, len(rungs) + 1).round().astype(int))
            out: list[Trajectory] = []
            for i, (eps, share) in enumerate(zip(rungs, shares, strict=True)):
                if share > 0:
                    out += rollout(
                        env,
                        source.policy(eps, env),
                        n_episodes=None,
                        total_steps=int(share),
                        seed=kseed + 100_000 * i,
                        info_keys=info_keys,
                        progress=progress,
                    )
            return out, {"policy": f"scripted controller, epsilon-random ladder {rungs}"}
        eps = 0.0 if kind == "expert" else source.medium_epsilon
        return rollout(
            env,
            source.policy(eps, env),
            n_episodes=None,
            total_steps=steps,
            seed=kseed,
            info_keys=info_keys,
            progress=progress,
        ), {"policy": f"scripted controller, epsilon {eps}"}
    finally:
        env.close()


def _expert_settings(env_id: str, algo: str | None, steps: int | None) -> dict[str, Any]:
    cfg = expert_config(env_id, algo=algo, steps=steps)  # resolved: `--algo sac` equals the default
    return {"algo": cfg.algo, "steps": cfg.steps}


def build_dataset(
    env_id: str,
    kind: str = "medium-replay",
    *,
    steps: int | None = None,
    seed: int = 0,
    algo: str | None = None,
    expert_steps: int | None = None,
    medium_fraction: float = 1 / 3,
    n_ref_episodes: int = 100,
    overwrite: bool = False,
    data_path: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> minari.MinariDataset:
    """Build (or reuse) the local Minari dataset ``sb3_ot/<env_id>/<kind>-v0``.

    Parameters
    ----------
    env_id : str
        A Gymnasium env id; ``PointMaze_*`` use the scripted expert, others a trained SB3 expert.
    kind : str
        One of :data:`KINDS`.
    steps : int or None
        Transitions of ``random``/``medium``/``expert`` (and of scripted ``medium-replay``); the last
        episode is cut to fit (a time-out). Default: :data:`DEFAULT_STEPS` (100k for other envs).
    seed : int
        Seeds the expert's training and every rollout: same seed, same machine, same dataset.
    algo, expert_steps : str or None, int or None
        Override the expert's algorithm and training budget (:data:`~sb3_ot.data.experts.EXPERT_CONFIGS`).
    medium_fraction : float
        Where the medium policy sits between random (0) and expert (1) in return.
    n_ref_episodes : int
        Episodes for the reference scores.
    overwrite : bool
        Rebuild even if the dataset exists.
    data_path : str, PathLike or None
        Minari datasets root (default ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``).
    home : str, PathLike or None
        sb3-ot's cache of experts (default ``$SB3_OT_HOME`` or ``~/.cache/sb3_ot``).
    progress : bool
        Progress bars.

    Returns
    -------
    minari.MinariDataset
        The dataset, with ``ref_min_score`` / ``ref_max_score`` set. Its build settings are in
        :func:`~sb3_ot.data.minari_io.read_build_info`.

    Raises
    ------
    ValueError
        For an unknown kind or env id, non-positive ``steps``, or a dataset that exists with other
        build settings and ``overwrite=False`` (the message shows both).
    """
    _check_kind(kind)
    ensure_registered(env_id)
    if steps is None:
        steps = DEFAULT_STEPS.get(env_id, _FALLBACK_STEPS)
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps: expected a positive int; got {steps!r}")
    home_path = Path(home).expanduser() if home is not None else cache_home()
    did = dataset_id(env_id, kind)
    settings = {
        "env_id": env_id,
        "kind": kind,
        "steps": int(steps),
        "seed": int(seed),
        "medium_fraction": float(medium_fraction),
        "n_ref_episodes": int(n_ref_episodes),
        "expert": "scripted" if is_scripted(env_id) else _expert_settings(env_id, algo, expert_steps),
    }
    root = _datasets_root(data_path)
    if (root / did / "data").is_dir() and not overwrite:
        info = read_build_info(root / did) or {}
        if info.get("settings") == settings:
            return minari.MinariDataset(root / did / "data")
        raise ValueError(
            f"build_dataset: {did!r} exists in {root} with build settings {info.get('settings')}, not "
            f"{settings}; pass overwrite=True (--overwrite) to rebuild it"
        )

    t0 = time.perf_counter()
    if is_scripted(env_id):
        source: ExpertRun | _ScriptedSource = _ScriptedSource.load(
            env_id, seed, medium_fraction, n_ref_episodes, home_path, progress
        )
        expert_desc: dict[str, Any] = {
            "kind": "scripted",
            "controller": "MazeWaypointController",
            "ladder": {str(k): v for k, v in source.ladder.items()},
            "medium_epsilon": source.medium_epsilon,
        }
        algorithm_name = "sb3_ot.MazeWaypointController"
    else:
        source = train_expert(
            env_id,
            algo=algo,
            steps=expert_steps,
            seed=seed,
            medium_fraction=medium_fraction,
            n_ref_episodes=n_ref_episodes,
            home=home_path,
            progress=progress,
        )
        expert_desc = {
            "kind": "trained",
            "algo": source.algo,
            "train_steps": source.config.steps,
            "expert_step": source.expert_step,
            "medium_step": source.medium_step,
            "medium_return": source.medium_return,
            "run": str(source.path),
            "train_seconds": source.train_seconds,
        }
        algorithm_name = f"sb3_ot.{source.algo.upper()}"

    if kind == "medium-expert":
        parts = [
            build_dataset(
                env_id,
                part,
                steps=steps,
                seed=seed,
                algo=algo,
                expert_steps=expert_steps,
                medium_fraction=medium_fraction,
                n_ref_episodes=n_ref_episodes,
                data_path=root,
                home=home_path,
                progress=progress,
            )
            for part in ("medium", "expert")
        ]
        trajectories = [t for ds in parts for t in load_trajectories(ds)]
        made: dict[str, Any] = {"policy": "medium dataset followed by expert dataset"}
    else:
        trajectories, made = _collect(env_id, kind, int(steps), int(seed), source, progress)
    if not trajectories:
        raise ValueError(f"build_dataset: {did!r} would hold no episodes; train the expert longer")
    build_info = {
        "settings": settings,
        "expert": expert_desc,
        **made,
        "random_return": source.random_return,
        "expert_return": source.expert_return,
        "build_seconds": time.perf_counter() - t0,
    }
    return save_minari(
        trajectories,
        did,
        env=env_id,
        ref_min_score=source.random_return,
        ref_max_score=source.expert_return,
        algorithm_name=algorithm_name,
        author="sb3-ot",
        description=f"D4RL-style {kind} dataset of {env_id}, built locally by sb3-ot ({made['policy']}).",
        overwrite=True,
        data_path=root,
        build_info=build_info,
    )


# ----------------------------------------------------------------------------- read
def list_datasets(data_path: str | os.PathLike[str] | None = None) -> list[str]:
    """Ids of the local datasets sb3-ot built (``sb3_ot/...``), sorted."""
    root = _datasets_root(data_path)
    with _minari_root(root):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids = minari.list_local_datasets()
    return sorted(i for i in ids if i.startswith(f"{NAMESPACE}/"))


def dataset_info(
    dataset: str | minari.MinariDataset, data_path: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Episodes, steps, returns, terminations/time-outs, reference and normalized scores of a dataset."""
    ds = _open_dataset(dataset, data_path)
    returns, terminated = [], 0
    for ep in ds.iterate_episodes():
        returns.append(float(np.sum(ep.rewards)))
        terminated += bool(ep.terminations[-1])
    returns_arr = np.asarray(returns)
    ref_min, ref_max = ds.storage.metadata.get("ref_min_score"), ds.storage.metadata.get("ref_max_score")
    info: dict[str, Any] = {
        "id": ds.spec.dataset_id,
        "env": ds.spec.env_spec.id if ds.spec.env_spec is not None else None,
        "episodes": int(ds.total_episodes),
        "steps": int(ds.total_steps),
        "terminated": int(terminated),
        "truncated": int(len(returns) - terminated),
        "return_mean": float(returns_arr.mean()),
        "return_std": float(returns_arr.std()),
        "return_min": float(returns_arr.min()),
        "return_max": float(returns_arr.max()),
        "ref_min_score": ref_min,
        "ref_max_score": ref_max,
    }
    if ref_min is not None and ref_max is not None:
        info["normalized_score"] = float(100 * (returns_arr.mean() - ref_min) / (ref_max - ref_min))
    build = read_build_info(ds)
    if build is not None:
        info["build"] = build
    return info


def top_episodes(
    trajectories: Iterable[Trajectory], k: int, *, min_steps: int | None = None
) -> list[Trajectory]:
    """The ``k`` trajectories with the highest return (stable on ties), e.g. expert demonstrations.

    ``min_steps`` drops shorter episodes first (such as the last episode of a dataset, cut to fit).
    """
    trajs = list(trajectories)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive int; got {k!r}")
    for i, t in enumerate(trajs):
        if t.rews is None:
            raise ValueError(f"trajectories[{i}].rews is None; top_episodes ranks by return")
    if min_steps is not None:
        trajs = [t for t in trajs if t.n_steps >= min_steps]
    if len(trajs) < k:
        raise ValueError(f"k: asked for {k} episodes but only {len(trajs)} qualify")
    order = sorted(range(len(trajs)), key=lambda i: -float(trajs[i].rews.sum()))  # type: ignore[union-attr]
    return [trajs[i] for i in order[:k]]


def build_suite(
    name: str = "small",
    *,
    kinds: Sequence[str] = KINDS,
    seed: int = 0,
    data_path: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Build every dataset of a suite; returns the wall time in seconds per dataset id."""
    if name not in SUITES:
        raise ValueError(f"name: expected one of {sorted(SUITES)}; got {name!r}")
    times = {}
    for env_id in SUITES[name]:
        for kind in kinds:
            t0 = time.perf_counter()
            build_dataset(env_id, kind, seed=seed, data_path=data_path, home=home, progress=progress)
            times[dataset_id(env_id, kind)] = time.perf_counter() - t0
    return times
