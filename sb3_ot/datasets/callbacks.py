"""The SB3 callbacks of an expert run: record every transition, evaluate and keep policies, checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from tqdm.auto import tqdm

from sb3_ot._files import atomic_write, move_into_place, scratch_folder, write_json
from sb3_ot.data.rollouts import episode_returns, sb3_policy, stack_steps
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.datasets.episode_files import RunFiles, save_episodes
from sb3_ot.datasets.expert_configs import ExpertConfig

__all__ = ["RecorderCallback", "TrainerCallback"]


class RecorderCallback(BaseCallback):
    """Records every transition the learner collects (one env), as trajectories.

    ``episodes[i]`` started at training step ``starts[i]``.
    """

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


class TrainerCallback(BaseCallback):
    """Evaluates and keeps policies, checkpoints for resuming, and drives the progress bar.

    ``state`` (``{"evaluations": [...], "train_seconds": ...}``) is the run's bookkeeping; evaluations
    are appended to it and it is saved with every checkpoint.
    """

    def __init__(
        self,
        run: RunFiles,
        cfg: ExpertConfig,
        eval_env: gym.Env,
        eval_seed: int,
        recorder: RecorderCallback,
        state: dict[str, Any],
        progress: bool,
    ) -> None:
        super().__init__()
        self.run, self.cfg, self.eval_env, self.eval_seed = run, cfg, eval_env, eval_seed
        self.recorder, self.state, self.progress = recorder, state, progress
        self.bar: tqdm | None = None

    def evaluate(self) -> None:
        """Evaluate the current policy and save it, once per training step."""
        step = int(self.model.num_timesteps)
        if any(e["step"] == step for e in self.state["evaluations"]):
            return
        returns = episode_returns(
            self.eval_env,
            sb3_policy(self.model.policy, deterministic=True),
            n_episodes=self.cfg.n_eval_episodes,
            seed=self.eval_seed,
        )
        with atomic_write(self.run.policy(step)) as tmp:
            self.model.policy.save(tmp)
        self.state["evaluations"].append(
            {"step": step, "mean": float(np.mean(returns)), "std": float(np.std(returns))}
        )
        if self.bar is not None:
            self.bar.set_postfix(eval_return=f"{np.mean(returns):.1f}")

    def checkpoint(self) -> None:
        """Replace ``resume/`` by model, replay buffer, recorded episodes and state of this step."""
        with scratch_folder(self.run.root) as scratch:
            new = scratch / "resume"
            new.mkdir()
            self.model.save(new / "model.zip")
            if isinstance(self.model, OffPolicyAlgorithm):
                self.model.save_replay_buffer(new / "replay_buffer.pkl")
            save_episodes(new / "episodes.npz", *self.recorder.snapshot())
            write_json(new / "state.json", {**self.state, "num_timesteps": int(self.model.num_timesteps)})
            move_into_place(new, self.run.resume, scratch)

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
