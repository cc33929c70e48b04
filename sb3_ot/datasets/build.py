"""D4RL-style local datasets: ``random``, ``medium``, ``expert``, ``medium-replay``, ``medium-expert``.

Each is an ordinary local Minari dataset ``sb3_ot/<env_id>/<kind>-v0`` with ``ref_min_score`` (uniform
random actions) and ``ref_max_score`` (the expert), so :func:`minari.get_normalized_score` gives
D4RL-style normalized scores, and episode boundaries that keep terminations apart from time-outs.

Where the data comes from:

* **Trained experts** (any env with a Box action space): :func:`~sb3_ot.datasets.experts.train_expert`.
  ``expert`` and ``medium`` are rollouts of the expert and medium policies, sampling their stochastic
  actions as D4RL did; ``medium-replay`` is every transition the training run collected before the
  medium policy was saved (its size is set by training, not by ``steps``).
* **Scripted experts** (``PointMaze_*``, ``FetchPush-*``, ``FetchPickAndPlace-*``):
  :class:`~sb3_ot.datasets.scripted.MazeWaypointController`, :class:`~sb3_ot.datasets.scripted.FetchController`. A
  controller has no training run, so the learning curve is made explicit: a ladder of epsilon-random
  versions of it (epsilon 1.0, 0.975, ..., 0.2, 0.0) is evaluated, ``medium`` is the rung closest to the
  medium fraction, and ``medium-replay`` is ``steps`` transitions spread evenly over the rungs from
  random up to medium, in that order (what an improving learner would have collected).
  Fetch data starts its gripper and block and draws its goals over the whole table
  (:class:`~sb3_ot.datasets.scripted.FetchTableResets`), where ZILOT's tasks lie, not within the env's
  15 cm of the gripper's one reset pose.
* ``random`` is uniform random actions; ``medium-expert`` is ``medium`` followed by ``expert``.
* ``noisy`` (not D4RL's) is the expert with Gaussian action noise
  (:func:`~sb3_ot.datasets.scripted.noisy_policy`; a trained expert acts deterministically under it):
  perturbed but mostly successful behaviour, the coverage a goal-conditioned world model needs around
  the expert's paths (ZILOT's FetchPickAndPlace data).

A dataset that exists with the same build settings is reused; different settings need ``overwrite``.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import minari
import numpy as np
from stable_baselines3.common.utils import set_random_seed

from sb3_ot._args import check_choice, check_float, check_int
from sb3_ot._home import cache_home
from sb3_ot.data.envs import ensure_registered
from sb3_ot.data.minari_io import (
    build_info_of,
    datasets_root,
    load_trajectories,
    minari_root,
    open_dataset,
    save_minari,
)
from sb3_ot.data.rollouts import Policy, rollout
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.datasets.expert_configs import resolve_config
from sb3_ot.datasets.experts import ExpertRun, train_expert
from sb3_ot.datasets.kinds import (
    DEFAULT_STEPS,
    FALLBACK_STEPS,
    KINDS,
    NAMESPACE,
    NOISY_STD,
    SUITES,
    dataset_id,
)
from sb3_ot.datasets.scripted import (
    EPSILONS,
    ScriptedSource,
    controller_name,
    data_resets,
    is_scripted,
    make_data_env,
    noisy_policy,
    success_key,
)

__all__ = ["build_dataset", "build_suite", "list_datasets"]

_Made = tuple[list[Trajectory], dict[str, Any]]  # trajectories and what made them
_NOISE = f"Gaussian action noise {NOISY_STD} x half-range"


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
        One of :data:`~sb3_ot.datasets.kinds.KINDS`.
    steps : int or None
        Transitions of ``random``/``medium``/``expert`` (and of scripted ``medium-replay``); the last
        episode is cut to fit (a time-out). Default: :data:`~sb3_ot.datasets.kinds.DEFAULT_STEPS`
        (100k for other envs).
    seed : int
        Seeds the expert's training and every rollout: same seed, same machine, same dataset.
    algo, expert_steps : str or None, int or None
        Override the expert's algorithm and training budget
        (:data:`~sb3_ot.datasets.expert_configs.EXPERT_CONFIGS`).
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
        For an unknown kind, env id or algo, a count that is not a positive int, a negative seed, a
        ``medium_fraction`` outside ``[0, 1]``, a dataset that exists but is corrupt, or one that
        exists with other build settings and ``overwrite=False`` (the message shows both).
    """
    settings = _settings(env_id, kind, steps, seed, algo, expert_steps, medium_fraction, n_ref_episodes)
    root = datasets_root(data_path)
    did = dataset_id(env_id, kind)
    if not overwrite and (root / did / "data").is_dir():
        return _reuse(root, did, settings)

    home_path = Path(home).expanduser() if home is not None else cache_home()
    t0 = time.perf_counter()
    source, expert_desc, algorithm_name = _expert_source(settings, algo, expert_steps, home_path, progress)
    if kind == "medium-expert":
        same = {"steps": steps, "seed": seed, "algo": algo, "expert_steps": expert_steps}
        same |= {"medium_fraction": medium_fraction, "n_ref_episodes": n_ref_episodes, "progress": progress}
        parts = [
            build_dataset(env_id, part, data_path=root, home=home_path, **same)
            for part in ("medium", "expert")
        ]
        trajectories = [t for ds in parts for t in load_trajectories(ds)]
        made: dict[str, Any] = {"policy": "medium dataset followed by expert dataset"}
    else:
        trajectories, made = _collect(env_id, kind, settings["steps"], settings["seed"], source, progress)
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


def _settings(
    env_id: str,
    kind: str,
    steps: int | None,
    seed: int,
    algo: str | None,
    expert_steps: int | None,
    medium_fraction: float,
    n_ref_episodes: int,
) -> dict[str, Any]:
    """The validated build settings, as recorded in the build info (and compared on reuse)."""
    func = "build_dataset"
    check_choice(kind, "kind", func, KINDS)
    ensure_registered(env_id, func=func)
    if steps is None:
        steps = DEFAULT_STEPS.get(env_id, FALLBACK_STEPS)
    if is_scripted(env_id):
        expert: str | dict[str, Any] = "scripted"
    else:  # resolved: `--algo sac` equals the default
        cfg = resolve_config(env_id, algo, expert_steps, func=func, steps_name="expert_steps")
        expert = {"algo": cfg.algo, "steps": cfg.steps}
    return {
        "env_id": env_id,
        "kind": kind,
        "steps": check_int(steps, "steps", func),
        "seed": check_int(seed, "seed", func, minimum=0),
        "medium_fraction": check_float(medium_fraction, "medium_fraction", func, high=1.0, low_open=False),
        "n_ref_episodes": check_int(n_ref_episodes, "n_ref_episodes", func),
        "expert": expert,
        **data_resets(env_id),
        **({"noise_std": NOISY_STD} if kind == "noisy" else {}),  # a rebuild at another std is no reuse
    }


def _reuse(root: Path, did: str, settings: dict[str, Any]) -> minari.MinariDataset:
    """The existing dataset ``did`` if it was built with ``settings``; else an error asking for overwrite."""
    ds = open_dataset(root / did, func="build_dataset")
    info = build_info_of(ds, func="build_dataset") or {}
    if info.get("settings") == settings:
        return ds
    raise ValueError(
        f"build_dataset: {did!r} exists in {root} with build settings {info.get('settings')}, not "
        f"{settings}; pass overwrite=True (--overwrite) to rebuild it"
    )


def _expert_source(
    settings: dict[str, Any], algo: str | None, expert_steps: int | None, home: Path, progress: bool
) -> tuple[ExpertRun | ScriptedSource, dict[str, Any], str]:
    """The expert behind the data (trained or scripted), its description and Minari algorithm name."""
    env_id, seed = settings["env_id"], settings["seed"]
    fraction, n_ref = settings["medium_fraction"], settings["n_ref_episodes"]
    if is_scripted(env_id):
        src = ScriptedSource.load(env_id, seed, fraction, n_ref, home, progress)
        controller = controller_name(env_id)
        desc = {
            "kind": "scripted",
            "controller": controller,
            "ladder": {str(k): v for k, v in src.ladder.items()},
            "medium_epsilon": src.medium_epsilon,
        }
        return src, desc, f"sb3_ot.{controller}"
    shared = {"seed": seed, "medium_fraction": fraction, "n_ref_episodes": n_ref}  # with the dataset
    run = train_expert(env_id, algo=algo, steps=expert_steps, home=home, progress=progress, **shared)
    desc = {
        "kind": "trained",
        "algo": run.algo,
        "train_steps": run.config.steps,
        "expert_step": run.expert_step,
        "medium_step": run.medium_step,
        "medium_return": run.medium_return,
        "run": str(run.path),
        "train_seconds": run.train_seconds,
    }
    return run, desc, f"sb3_ot.{run.algo.upper()}"


# ----------------------------------------------------------------------------- collect
def _kind_seed(seed: int, kind: str) -> int:
    return int(np.random.SeedSequence([seed, KINDS.index(kind)]).generate_state(1)[0] % (2**31 - 10**7))


def _collect(
    env_id: str, kind: str, steps: int, seed: int, source: ExpertRun | ScriptedSource, progress: bool
) -> _Made:
    """The trajectories of one kind (not ``medium-expert``) and what made them."""
    kseed = _kind_seed(seed, kind)
    set_random_seed(kseed)  # stochastic SB3 actions draw from torch's generator
    env = make_data_env(env_id)
    info_keys = (success_key(env_id),) if is_scripted(env_id) else ()
    try:
        if kind == "random":
            trajectories = _steps(env, None, steps, kseed, info_keys, progress)
            return trajectories, {"policy": "uniform random actions"}
        if isinstance(source, ExpertRun):
            return _collect_trained(env, kind, steps, kseed, source, progress)
        return _collect_scripted(env, kind, steps, kseed, source, info_keys, progress)
    finally:
        env.close()


def _steps(
    env: gym.Env, policy: Policy | None, steps: int, seed: int, info_keys: Sequence[str], progress: bool
) -> list[Trajectory]:
    """Whole episodes of ``policy`` until ``steps`` transitions, the last one cut to fit."""
    return rollout(
        env, policy, n_episodes=None, total_steps=steps, seed=seed, info_keys=info_keys, progress=progress
    )


def _collect_trained(env: gym.Env, kind: str, steps: int, seed: int, run: ExpertRun, progress: bool) -> _Made:
    if kind == "medium-replay":
        return run.replay(), {"policy": f"{run.algo} training run, steps [0, {run.medium_step})"}
    if kind == "noisy":
        policy = noisy_policy(run.policy("expert", deterministic=True), env.action_space, NOISY_STD)
        made = f"{run.algo} expert policy (training step {run.expert_step}), {_NOISE}"
        return _steps(env, policy, steps, seed, (), progress), {"policy": made}
    which = "expert" if kind == "expert" else "medium"
    step = run.expert_step if which == "expert" else run.medium_step
    trajectories = _steps(env, run.policy(which, deterministic=False), steps, seed, (), progress)
    return trajectories, {"policy": f"{run.algo} {which} policy (training step {step}), stochastic actions"}


def _collect_scripted(
    env: gym.Env,
    kind: str,
    steps: int,
    seed: int,
    source: ScriptedSource,
    info_keys: Sequence[str],
    progress: bool,
) -> _Made:
    if kind == "noisy":
        policy = noisy_policy(source.policy(0.0, env), env.action_space, NOISY_STD)
        return _steps(env, policy, steps, seed, info_keys, progress), {
            "policy": f"scripted controller, {_NOISE}"
        }
    if kind != "medium-replay":
        eps = 0.0 if kind == "expert" else source.medium_epsilon
        trajectories = _steps(env, source.policy(eps, env), steps, seed, info_keys, progress)
        return trajectories, {"policy": f"scripted controller, epsilon {eps}"}
    # what an improving learner would have collected: the rungs from random up to medium, in order
    rungs = [e for e in EPSILONS if e >= source.medium_epsilon]
    shares = np.diff(np.linspace(0, steps, len(rungs) + 1).round().astype(int))
    out: list[Trajectory] = []
    for i, (eps, share) in enumerate(zip(rungs, shares, strict=True)):
        if share > 0:
            out += _steps(env, source.policy(eps, env), int(share), seed + 100_000 * i, info_keys, progress)
    return out, {"policy": f"scripted controller, epsilon-random ladder {rungs}"}


# ----------------------------------------------------------------------------- suites and listing
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
    check_choice(name, "name", "build_suite", sorted(SUITES))
    for kind in kinds:
        check_choice(kind, "kinds[...]", "build_suite", KINDS)
    times = {}
    for env_id in SUITES[name]:
        for kind in kinds:
            t0 = time.perf_counter()
            build_dataset(env_id, kind, seed=seed, data_path=data_path, home=home, progress=progress)
            times[dataset_id(env_id, kind)] = time.perf_counter() - t0
    return times


def list_datasets(data_path: str | os.PathLike[str] | None = None) -> list[str]:
    """Ids of the local datasets sb3-ot built (``sb3_ot/...``), sorted."""
    with minari_root(datasets_root(data_path)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = minari.list_local_datasets()
    return sorted(i for i in ids if i.startswith(f"{NAMESPACE}/"))
