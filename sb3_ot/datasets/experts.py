"""Train SB3 experts for Gymnasium envs, cached on disk and resumable, the way D4RL's data was made.

:func:`train_expert` trains SAC (or TD3 / PPO) with a per-env budget
(:mod:`~sb3_ot.datasets.expert_configs`), evaluates the policy every ``eval_every`` steps and keeps
every evaluated policy, records every transition the run collects, and checkpoints model, replay buffer
and records every ``checkpoint_every`` steps so an interrupted run resumes
(:mod:`~sb3_ot.datasets.callbacks`). Once done it picks

* the **expert**: the evaluated policy with the best mean return;
* the **medium** policy: the evaluated policy whose mean return is closest to
  ``random + medium_fraction * (expert - random)`` (D4RL: about one third of the way). The fraction is
  taken of the range above random, not of the raw return, because raw returns may be negative
  (Pendulum's expert scores about -150);
* the **medium-replay** data: every transition the run collected before the medium policy was saved
  (D4RL's "replay buffer of the run that produced the medium policy").

Everything lives under ``<cache_home>/experts/<env_id>/<run name>/``
(:mod:`~sb3_ot.datasets.episode_files`); a finished run has ``run.json`` and is reused by any later
call with the same settings.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from sb3_ot._args import check_choice, check_float, check_int
from sb3_ot._files import settings_key, write_json
from sb3_ot._home import cache_home
from sb3_ot.data.envs import ensure_registered, make_env
from sb3_ot.data.rollouts import Policy, episode_returns, sb3_policy, slice_obs
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.datasets.callbacks import RecorderCallback, TrainerCallback
from sb3_ot.datasets.episode_files import RunFiles, load_episodes, save_episodes
from sb3_ot.datasets.expert_configs import ExpertConfig, resolve_config

__all__ = ["ExpertRun", "train_expert"]

_ALGO_CLASSES: dict[str, type[BaseAlgorithm]] = {"sac": SAC, "td3": TD3, "ppo": PPO}


@dataclass(frozen=True)
class ExpertRun:
    """A finished expert run: what was trained, how it scored, and its policies and data.

    Attributes
    ----------
    env_id, algo, seed : str, str, int
        What was trained.
    config : ExpertConfig
        The budget and hyperparameters.
    path : Path
        The run folder.
    evaluations : list[dict]
        ``{"step", "mean", "std"}`` of every evaluation (``n_eval_episodes`` deterministic episodes).
    random_return, expert_return : float
        Mean return of uniform random actions and of the expert (deterministic), each over
        ``n_ref_episodes`` episodes: the reference scores of the datasets.
    expert_step, medium_step : int
        Training step at which the expert and the medium policies were saved.
    medium_return : float
        The medium policy's evaluation mean.
    medium_fraction : float
        The target fraction of the way from random to expert.
    train_seconds : float
        Wall time of training (summed over resumed sessions).
    """

    env_id: str
    algo: str
    seed: int
    config: ExpertConfig
    path: Path
    evaluations: list[dict[str, float]]
    random_return: float
    expert_return: float
    expert_step: int
    medium_step: int
    medium_return: float
    medium_fraction: float
    train_seconds: float

    def policy(self, which: str = "expert", *, deterministic: bool = False) -> Policy:
        """The ``"expert"`` or ``"medium"`` policy as a :data:`~sb3_ot.data.rollouts.Policy`."""
        return sb3_policy(self.load_policy(which), deterministic=deterministic)

    def load_policy(self, which: str = "expert"):
        """The ``"expert"`` or ``"medium"`` SB3 policy object (``predict(obs, deterministic)``)."""
        check_choice(which, "which", "ExpertRun.load_policy", ("expert", "medium"))
        step = self.expert_step if which == "expert" else self.medium_step
        return _load_policy(self.algo, RunFiles(self.path).policy(step))

    def replay(self, until_step: int | None = None) -> list[Trajectory]:
        """Transitions the training run collected before ``until_step`` (default: the medium step).

        The episode running at ``until_step`` is cut there as a time-out (``terminated=False``).
        """
        if until_step is None:
            until = self.medium_step
        else:
            until = check_int(until_step, "until_step", "ExpertRun.replay", minimum=0)
        episodes, starts = load_episodes(RunFiles(self.path).episodes)
        out = []
        for traj, start in zip(episodes, starts, strict=True):
            if start >= until:
                break
            keep = until - start
            if keep < traj.n_steps:
                traj = Trajectory(
                    slice_obs(traj.obs, slice(keep + 1)),
                    traj.acts[:keep],
                    traj.rews[:keep],
                    terminated=False,  # type: ignore[index]
                )
            out.append(traj)
        return out


def train_expert(
    env_id: str,
    *,
    algo: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    medium_fraction: float = 1 / 3,
    n_ref_episodes: int = 100,
    home: str | os.PathLike[str] | None = None,
    progress: bool = True,
    callback: BaseCallback | None = None,
) -> ExpertRun:
    """Train (or load from the cache, or resume) the SB3 expert of ``env_id``.

    Parameters
    ----------
    env_id : str
        A Gymnasium env id with a ``Box`` action space for SAC/TD3 (any space for PPO).
    algo : str or None
        ``"sac"`` (default for every env), ``"td3"`` or ``"ppo"``.
    steps : int or None
        Training steps; default from :data:`~sb3_ot.datasets.expert_configs.EXPERT_CONFIGS` (100k for
        unknown envs).
    seed : int
        Seeds the algorithm (torch, numpy, env). Same seed, same machine: the same run.
    medium_fraction : float
        The medium policy is the evaluated one closest to ``random + medium_fraction * (expert -
        random)`` in mean return.
    n_ref_episodes : int
        Episodes for the reference returns (random policy, final expert), as D4RL's 100.
    home : str, PathLike or None
        Cache folder; default ``$SB3_OT_HOME`` or ``~/.cache/sb3_ot``. The run lives in
        ``<home>/experts/<env_id>/<algo>-seed<seed>-<steps>steps-<config hash>/``.
    progress : bool
        Show a progress bar.
    callback : BaseCallback or None
        An extra SB3 callback for the learner (return ``False`` from it to stop; the run then stays
        resumable from its last checkpoint).

    Returns
    -------
    ExpertRun
        The finished run. A finished run in the cache is returned without training; an unfinished
        one resumes from its last checkpoint (every ``checkpoint_every`` steps). A resumed run is a
        valid run but not bitwise the run an uninterrupted call would give: the env restarts an
        episode at the checkpoint (recorded as a time-out) and the random streams restart.

    Raises
    ------
    ValueError
        For an unknown env id or algo, a non-positive ``steps`` or ``n_ref_episodes``, a negative
        ``seed``, or ``medium_fraction`` outside ``[0, 1]``.
    RuntimeError
        If ``callback`` stopped training before ``steps``.
    """
    func = "train_expert"
    medium_fraction = check_float(medium_fraction, "medium_fraction", func, low=0.0, high=1.0, low_open=False)
    n_ref_episodes = check_int(n_ref_episodes, "n_ref_episodes", func)
    seed = check_int(seed, "seed", func, minimum=0)
    cfg = resolve_config(env_id, algo, steps, func=func)
    ensure_registered(env_id, func=func)
    root = Path(home).expanduser() if home is not None else cache_home()
    files = RunFiles(root / "experts" / env_id / _run_name(cfg, seed))
    if files.done.is_file():
        return _from_record(json.loads(files.done.read_text()), files.root)
    (files.root / "policies").mkdir(parents=True, exist_ok=True)

    env, eval_env = make_env(env_id), make_env(env_id)
    try:
        state, recorder, trainer = _learn(env_id, files, cfg, seed, env, eval_env, progress, callback)
        trainer.evaluate()  # the final policy
        save_episodes(files.episodes, *recorder.snapshot())
        record = {
            "env_id": env_id,
            "algo": cfg.algo,
            "seed": seed,
            "config": {**asdict(cfg), "hyperparams": dict(cfg.hyperparams)},
            **_pick_policies(files, cfg, seed, eval_env, state, medium_fraction, n_ref_episodes),
            "train_seconds": float(state["train_seconds"]),
        }
        write_json(files.done, record)
        shutil.rmtree(files.resume, ignore_errors=True)
        return _from_record(record, files.root)
    finally:
        env.close()
        eval_env.close()


def _learn(
    env_id: str,
    files: RunFiles,
    cfg: ExpertConfig,
    seed: int,
    env: gym.Env,
    eval_env: gym.Env,
    progress: bool,
    callback: BaseCallback | None,
) -> tuple[dict[str, Any], RecorderCallback, TrainerCallback]:
    """Train from scratch, or from the run's checkpoint, up to ``cfg.steps``.

    Returns the run's state (evaluations, training time) and the two callbacks, which hold the
    recorded episodes and can still evaluate the final policy.
    """
    recorder = RecorderCallback()
    resumed = (files.resume / "state.json").is_file()
    if resumed:
        state, model = _resume(files, cfg, env, recorder)
    else:
        state, model = {"evaluations": [], "train_seconds": 0.0}, _make_model(cfg, env, seed)
    trainer = TrainerCallback(files, cfg, eval_env, 10_000 + seed, recorder, state, progress)
    callbacks: list[BaseCallback] = [recorder, trainer] + ([callback] if callback is not None else [])
    remaining = cfg.steps - int(model.num_timesteps)
    t0 = time.perf_counter()
    try:
        if remaining > 0:
            model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=not resumed)
    finally:
        state["train_seconds"] = float(state.get("train_seconds", 0.0)) + time.perf_counter() - t0
    if model.num_timesteps < cfg.steps:
        trainer.checkpoint()
        raise RuntimeError(
            f"train_expert: training of {env_id} stopped at step {model.num_timesteps} of {cfg.steps} "
            f"(a callback returned False); call again to resume from {files.resume}"
        )
    return state, recorder, trainer


def _resume(
    files: RunFiles, cfg: ExpertConfig, env: gym.Env, recorder: RecorderCallback
) -> tuple[dict[str, Any], BaseAlgorithm]:
    """The state and model of the run's checkpoint; the recorder gets the episodes recorded so far."""
    state = json.loads((files.resume / "state.json").read_text())
    model = _ALGO_CLASSES[cfg.algo].load(files.resume / "model.zip", env=env, device="cpu")
    if isinstance(model, OffPolicyAlgorithm):
        model.load_replay_buffer(files.resume / "replay_buffer.pkl")
    recorder.episodes, recorder.starts = load_episodes(files.resume / "episodes.npz")
    return state, model


def _pick_policies(
    files: RunFiles,
    cfg: ExpertConfig,
    seed: int,
    eval_env: gym.Env,
    state: Mapping[str, Any],
    medium_fraction: float,
    n_ref_episodes: int,
) -> dict[str, Any]:
    """Reference returns, the expert (best evaluation) and the medium policy, as run record fields."""
    evaluations = sorted(state["evaluations"], key=lambda e: e["step"])
    best = max(evaluations, key=lambda e: (e["mean"], e["step"]))
    expert = _load_policy(cfg.algo, files.policy(best["step"]))
    expert_returns = episode_returns(
        eval_env, sb3_policy(expert, deterministic=True), n_episodes=n_ref_episodes, seed=20_000 + seed
    )
    random_returns = episode_returns(eval_env, None, n_episodes=n_ref_episodes, seed=30_000 + seed)
    random_return, expert_return = float(np.mean(random_returns)), float(np.mean(expert_returns))
    target = random_return + medium_fraction * (expert_return - random_return)
    trained = [e for e in evaluations if e["step"] > 0]  # medium is a trained policy, as in D4RL
    medium = min(trained, key=lambda e: (abs(e["mean"] - target), e["step"]))
    return {
        "evaluations": evaluations,
        "random_return": random_return,
        "expert_return": expert_return,
        "expert_step": int(best["step"]),
        "medium_step": int(medium["step"]),
        "medium_return": float(medium["mean"]),
        "medium_fraction": float(medium_fraction),
    }


def _load_policy(algo: str, path: Path):
    """Load a policy saved with ``policy.save`` (the constructor arguments, Dict-obs extractors
    included, are stored with it, so the base class of each algorithm loads every variant)."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.sac.policies import SACPolicy
    from stable_baselines3.td3.policies import TD3Policy

    cls = {"sac": SACPolicy, "td3": TD3Policy, "ppo": ActorCriticPolicy}[algo]
    return cls.load(path, device="cpu")


def _run_name(cfg: ExpertConfig, seed: int) -> str:
    key = settings_key({k: v for k, v in asdict(cfg).items() if k != "expected_return"})
    return f"{cfg.algo}-seed{seed}-{cfg.steps}steps-{key}"


def _make_model(cfg: ExpertConfig, env: gym.Env, seed: int) -> BaseAlgorithm:
    algo_cls = _ALGO_CLASSES[cfg.algo]
    kwargs = dict(cfg.hyperparams)
    if issubclass(algo_cls, OffPolicyAlgorithm):
        kwargs.setdefault("buffer_size", cfg.steps)  # the whole run fits; no 1M-row allocation
    policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
    return algo_cls(policy, env, seed=seed, verbose=0, device="cpu", **kwargs)


def _from_record(record: Mapping[str, Any], path: Path) -> ExpertRun:
    cfg = ExpertConfig(**{**record["config"], "hyperparams": dict(record["config"]["hyperparams"])})
    fields = {k: v for k, v in record.items() if k not in ("config", "path")}
    return ExpertRun(config=cfg, path=path, **fields)
