"""Train SB3 experts for Gymnasium envs, cached on disk and resumable, the way D4RL's data was made.

:func:`train_expert` trains SAC (or TD3 / PPO) with a per-env budget, evaluates the policy every
``eval_every`` steps and keeps every evaluated policy, records every transition the run collects, and
checkpoints model, replay buffer and records every ``checkpoint_every`` steps so an interrupted run
resumes. Once done it picks

* the **expert**: the evaluated policy with the best mean return;
* the **medium** policy: the evaluated policy whose mean return is closest to
  ``random + medium_fraction * (expert - random)`` (D4RL: about one third of the way). The fraction is
  taken of the range above random, not of the raw return, because raw returns may be negative
  (Pendulum's expert scores about -150);
* the **medium-replay** data: every transition the run collected before the medium policy was saved
  (D4RL's "replay buffer of the run that produced the medium policy").

Everything lives under ``<cache_home>/experts/<env_id>/<run name>/``; a finished run has ``run.json``
and is reused by any later call with the same settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from tqdm.auto import tqdm

from sb3_ot._home import cache_home
from sb3_ot.data.envs import make_env
from sb3_ot.data.rollout import Policy, episode_returns, sb3_policy, slice_obs, stack_steps
from sb3_ot.data.trajectory import Trajectory

__all__ = ["ALGOS", "EXPERT_CONFIGS", "ExpertConfig", "ExpertRun", "expert_config", "train_expert"]

ALGOS: dict[str, type[BaseAlgorithm]] = {"sac": SAC, "td3": TD3, "ppo": PPO}


@dataclass(frozen=True)
class ExpertConfig:
    """How to train the expert of one env.

    Attributes
    ----------
    algo : str
        ``"sac"``, ``"td3"`` or ``"ppo"``.
    steps : int
        Environment steps of training.
    eval_every : int
        Evaluate (deterministic actions) and keep the policy every this many steps.
    n_eval_episodes : int
        Episodes per evaluation (the same reset seeds every time).
    checkpoint_every : int
        Save a resumable checkpoint every this many steps.
    hyperparams : Mapping[str, Any]
        Keyword arguments of the SB3 algorithm (rl-zoo3's tuned values where they exist).
    expected_return : float or None
        The mean return this budget is documented to reach (``docs/datasets.md``).
    """

    algo: str = "sac"
    steps: int = 100_000
    eval_every: int = 5_000
    n_eval_episodes: int = 5
    checkpoint_every: int = 10_000
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    expected_return: float | None = None


#: Per-env budgets. Hyperparameters from rl-zoo3 (``hyperparams/sac.yml``) where it tunes the env.
EXPERT_CONFIGS: dict[str, ExpertConfig] = {
    "Pendulum-v1": ExpertConfig(
        "sac", 20_000, 1_000, 10, 5_000, {"learning_rate": 1e-3}, expected_return=-200.0
    ),
    "HalfCheetah-v5": ExpertConfig(
        "sac", 100_000, 5_000, 5, 10_000, {"learning_starts": 10_000}, expected_return=3000.0
    ),
    "Hopper-v5": ExpertConfig("sac", 200_000, 5_000, 5, 10_000, {"learning_starts": 10_000}),
    "Walker2d-v5": ExpertConfig("sac", 300_000, 10_000, 5, 20_000, {"learning_starts": 10_000}),
    "InvertedDoublePendulum-v5": ExpertConfig("sac", 50_000, 2_500, 5, 10_000, {}),
    "InvertedPendulum-v5": ExpertConfig("sac", 20_000, 1_000, 5, 5_000, {}),
}


def expert_config(env_id: str, *, algo: str | None = None, steps: int | None = None) -> ExpertConfig:
    """The :class:`ExpertConfig` of ``env_id`` (a generic SAC budget for unknown envs), overridden.

    Changing ``algo`` drops the env's tuned hyperparameters (they belong to the default algorithm).
    """
    base = EXPERT_CONFIGS.get(env_id, ExpertConfig())
    if algo is not None:
        algo = algo.lower()
        if algo not in ALGOS:
            raise ValueError(f"algo: expected one of {sorted(ALGOS)}; got {algo!r}")
        if algo != base.algo:
            base = ExpertConfig(
                algo, base.steps, base.eval_every, base.n_eval_episodes, base.checkpoint_every
            )
    if steps is not None:
        if not isinstance(steps, int | np.integer) or steps < 1:
            raise ValueError(f"steps: expected a positive int; got {steps!r}")
        base = ExpertConfig(
            base.algo,
            int(steps),
            min(base.eval_every, int(steps)),
            base.n_eval_episodes,
            min(base.checkpoint_every, int(steps)),
            dict(base.hyperparams),
            base.expected_return if steps >= base.steps else None,
        )
    return base


# ----------------------------------------------------------------------------- files
def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _save_episodes(path: Path, episodes: list[Trajectory], starts: list[int]) -> None:
    """Episodes (with actions and rewards) as one ``.npz``, written atomically."""
    arrays: dict[str, np.ndarray] = {
        "n_steps": np.array([t.n_steps for t in episodes], dtype=np.int64),
        "terminated": np.array([t.terminated for t in episodes], dtype=np.bool_),
        "start": np.array(starts, dtype=np.int64),
    }
    if episodes:
        if episodes[0].is_dict_obs:
            for key in episodes[0].obs:
                arrays[f"obs.{key}"] = np.concatenate([t.obs[key] for t in episodes])  # type: ignore[index]
        else:
            arrays["obs"] = np.concatenate([t.obs for t in episodes])  # type: ignore[misc]
        arrays["acts"] = np.concatenate([t.acts for t in episodes])  # type: ignore[misc]
        arrays["rews"] = np.concatenate([t.rews for t in episodes])  # type: ignore[misc]
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load_episodes(path: Path) -> tuple[list[Trajectory], list[int]]:
    with np.load(path) as data:
        n_steps, terminated, starts = data["n_steps"], data["terminated"], data["start"].tolist()
        if len(n_steps) == 0:
            return [], []
        obs_keys = [k for k in data.files if k.startswith("obs.")]
        obs_all = {k[4:]: data[k] for k in obs_keys} if obs_keys else data["obs"]
        acts_all, rews_all = data["acts"], data["rews"]
    episodes, o, a = [], 0, 0
    for n, term in zip(n_steps.tolist(), terminated.tolist(), strict=True):
        obs = slice_obs(obs_all, slice(o, o + n + 1))
        episodes.append(Trajectory(obs, acts_all[a : a + n], rews_all[a : a + n], terminated=bool(term)))
        o, a = o + n + 1, a + n
    return episodes, starts


# ----------------------------------------------------------------------------- callbacks
class _Recorder(BaseCallback):
    """Records every transition the learner collects (one env), as trajectories."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[Trajectory] = []
        self.starts: list[int] = []
        self._reset_current()

    def _reset_current(self) -> None:
        self._obs: list[Any] = []
        self._acts: list[np.ndarray] = []
        self._rews: list[float] = []
        self._start = 0

    @staticmethod
    def _first(obs: Any) -> Any:
        if isinstance(obs, Mapping):
            return {k: np.array(v[0]) for k, v in obs.items()}
        return np.array(obs[0])

    def _on_step(self) -> bool:
        if not self._obs:
            self._start = self.num_timesteps - 1
            self._obs.append(self._first(self.model._last_obs))  # the obs the action was taken in
        actions = self.locals.get("clipped_actions", self.locals.get("actions"))
        self._acts.append(np.array(actions[0]))
        self._rews.append(float(self.locals["rewards"][0]))
        info = self.locals["infos"][0]
        if self.locals["dones"][0]:
            final = info["terminal_observation"]  # the real last obs (the VecEnv already reset)
            self._obs.append(
                {k: np.array(v) for k, v in final.items()} if isinstance(final, Mapping) else np.array(final)
            )
            self._close(terminated=not info.get("TimeLimit.truncated", False))
        else:
            self._obs.append(self._first(self.locals["new_obs"]))
        return True

    def _close(self, *, terminated: bool) -> None:
        if self._acts:
            self.episodes.append(
                Trajectory(
                    stack_steps(self._obs),
                    np.asarray(self._acts),
                    np.asarray(self._rews),
                    terminated=terminated,
                )
            )
            self.starts.append(self._start)
        self._reset_current()

    def snapshot(self) -> tuple[list[Trajectory], list[int]]:
        """Finished episodes plus the running one, cut as a time-out."""
        episodes, starts = list(self.episodes), list(self.starts)
        if self._acts:
            saved = (self._obs, self._acts, self._rews, self._start)
            self._close(terminated=False)
            episodes.append(self.episodes.pop())
            starts.append(self.starts.pop())
            self._obs, self._acts, self._rews, self._start = saved
        return episodes, starts


class _Trainer(BaseCallback):
    """Evaluates and keeps policies, checkpoints for resuming, and drives the progress bar."""

    def __init__(
        self,
        run: _RunFiles,
        cfg: ExpertConfig,
        eval_env: gym.Env,
        eval_seed: int,
        recorder: _Recorder,
        state: dict[str, Any],
        progress: bool,
    ) -> None:
        super().__init__()
        self.run, self.cfg, self.eval_env, self.eval_seed = run, cfg, eval_env, eval_seed
        self.recorder, self.state, self.progress = recorder, state, progress
        self.bar: tqdm | None = None

    def evaluate(self) -> None:
        step = int(self.model.num_timesteps)
        if any(e["step"] == step for e in self.state["evaluations"]):
            return
        returns = episode_returns(
            self.eval_env,
            sb3_policy(self.model.policy, deterministic=True),
            n_episodes=self.cfg.n_eval_episodes,
            seed=self.eval_seed,
        )
        path = self.run.policy(step)
        tmp = path.with_name(f".{path.name}.tmp.zip")
        self.model.policy.save(tmp)
        os.replace(tmp, path)
        self.state["evaluations"].append(
            {"step": step, "mean": float(np.mean(returns)), "std": float(np.std(returns))}
        )
        if self.bar is not None:
            self.bar.set_postfix(eval_return=f"{np.mean(returns):.1f}")

    def checkpoint(self) -> None:
        tmp = self.run.root / ".resume.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self.model.save(tmp / "model.zip")
        if isinstance(self.model, OffPolicyAlgorithm):
            self.model.save_replay_buffer(tmp / "replay_buffer.pkl")
        _save_episodes(tmp / "episodes.npz", *self.recorder.snapshot())
        _atomic_json(tmp / "state.json", {**self.state, "num_timesteps": int(self.model.num_timesteps)})
        old = self.run.root / ".resume.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.run.resume.exists():
            os.rename(self.run.resume, old)
        os.rename(tmp, self.run.resume)
        shutil.rmtree(old, ignore_errors=True)

    def _on_training_start(self) -> None:
        self.bar = tqdm(
            total=self.cfg.steps,
            initial=int(self.model.num_timesteps),
            unit="step",
            desc=f"{self.cfg.algo.upper()} expert",
            disable=not self.progress,
        )
        self.evaluate()  # step 0 (or the resumed step): the untrained policy is a candidate too

    def _on_step(self) -> bool:
        n = int(self.model.num_timesteps)
        if self.bar is not None:
            self.bar.update(n - self.bar.n)
        if n % self.cfg.eval_every == 0:
            self.evaluate()
        if n % self.cfg.checkpoint_every == 0 and n < self.cfg.steps:
            self.checkpoint()
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ----------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class _RunFiles:
    root: Path

    @property
    def resume(self) -> Path:
        return self.root / "resume"

    @property
    def done(self) -> Path:
        return self.root / "run.json"

    @property
    def episodes(self) -> Path:
        return self.root / "episodes.npz"

    def policy(self, step: int) -> Path:
        return self.root / "policies" / f"step_{step:09d}.zip"


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
        """The ``"expert"`` or ``"medium"`` policy as a :data:`~sb3_ot.data.rollout.Policy`."""
        return sb3_policy(self.load_policy(which), deterministic=deterministic)

    def load_policy(self, which: str = "expert"):
        """The ``"expert"`` or ``"medium"`` SB3 policy object (``predict(obs, deterministic)``)."""
        if which not in ("expert", "medium"):
            raise ValueError(f"which: expected 'expert' or 'medium'; got {which!r}")
        step = self.expert_step if which == "expert" else self.medium_step
        return _load_policy(self.algo, _RunFiles(self.path).policy(step))

    def replay(self, until_step: int | None = None) -> list[Trajectory]:
        """Transitions the training run collected before ``until_step`` (default: the medium step).

        The episode running at ``until_step`` is cut there as a time-out (``terminated=False``).
        """
        until = self.medium_step if until_step is None else int(until_step)
        episodes, starts = _load_episodes(_RunFiles(self.path).episodes)
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


def _load_policy(algo: str, path: Path):
    """Load a policy saved with ``policy.save`` (the constructor arguments, Dict-obs extractors
    included, are stored with it, so the base class of each algorithm loads every variant)."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.sac.policies import SACPolicy
    from stable_baselines3.td3.policies import TD3Policy

    cls = {"sac": SACPolicy, "td3": TD3Policy, "ppo": ActorCriticPolicy}[algo]
    return cls.load(path, device="cpu")


def _run_name(cfg: ExpertConfig, seed: int) -> str:
    key = json.dumps(
        {k: v for k, v in asdict(cfg).items() if k != "expected_return"}, sort_keys=True, default=str
    )
    return f"{cfg.algo}-seed{seed}-{cfg.steps}steps-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def _make_model(cfg: ExpertConfig, env: gym.Env, seed: int) -> BaseAlgorithm:
    algo_cls = ALGOS[cfg.algo]
    kwargs = dict(cfg.hyperparams)
    if issubclass(algo_cls, OffPolicyAlgorithm):
        kwargs.setdefault("buffer_size", cfg.steps)  # the whole run fits; no 1M-row allocation
    policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
    return algo_cls(policy, env, seed=seed, verbose=0, device="cpu", **kwargs)


def _from_record(record: Mapping[str, Any], path: Path) -> ExpertRun:
    cfg = ExpertConfig(**{**record["config"], "hyperparams": dict(record["config"]["hyperparams"])})
    fields = {k: v for k, v in record.items() if k not in ("config", "path")}
    return ExpertRun(config=cfg, path=path, **fields)


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
        Training steps; default from :data:`EXPERT_CONFIGS` (100k for unknown envs).
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
        For an unknown algo, a non-positive ``steps``, or ``medium_fraction`` outside ``[0, 1]``.
    RuntimeError
        If ``callback`` stopped training before ``steps``.
    """
    if not 0.0 <= medium_fraction <= 1.0:
        raise ValueError(f"medium_fraction: expected a fraction in [0, 1]; got {medium_fraction!r}")
    if not isinstance(n_ref_episodes, int) or n_ref_episodes < 1:
        raise ValueError(f"n_ref_episodes: expected a positive int; got {n_ref_episodes!r}")
    cfg = expert_config(env_id, algo=algo, steps=steps)
    root = Path(home).expanduser() if home is not None else cache_home()
    files = _RunFiles(root / "experts" / env_id / _run_name(cfg, seed))
    if files.done.is_file():
        return _from_record(json.loads(files.done.read_text()), files.root)
    (files.root / "policies").mkdir(parents=True, exist_ok=True)

    env, eval_env = make_env(env_id), make_env(env_id)
    recorder = _Recorder()
    state: dict[str, Any] = {"evaluations": [], "train_seconds": 0.0}
    resumed = (files.resume / "state.json").is_file()
    try:
        if resumed:
            state = json.loads((files.resume / "state.json").read_text())
            model = ALGOS[cfg.algo].load(files.resume / "model.zip", env=env, device="cpu")
            if isinstance(model, OffPolicyAlgorithm):
                model.load_replay_buffer(files.resume / "replay_buffer.pkl")
            recorder.episodes, recorder.starts = _load_episodes(files.resume / "episodes.npz")
        else:
            model = _make_model(cfg, env, seed)
        trainer = _Trainer(files, cfg, eval_env, 10_000 + seed, recorder, state, progress)
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
        trainer.evaluate()  # the final policy
        _save_episodes(files.episodes, *recorder.snapshot())

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
        record = {
            "env_id": env_id,
            "algo": cfg.algo,
            "seed": seed,
            "config": {**asdict(cfg), "hyperparams": dict(cfg.hyperparams)},
            "evaluations": evaluations,
            "random_return": random_return,
            "expert_return": expert_return,
            "expert_step": int(best["step"]),
            "medium_step": int(medium["step"]),
            "medium_return": float(medium["mean"]),
            "medium_fraction": float(medium_fraction),
            "train_seconds": float(state["train_seconds"]),
        }
        _atomic_json(files.done, record)
        shutil.rmtree(files.resume, ignore_errors=True)
        return _from_record(record, files.root)
    finally:
        env.close()
        eval_env.close()
