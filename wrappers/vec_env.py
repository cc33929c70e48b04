"""``OTRewardVecEnvWrapper``: OT imitation rewards for an SB3 ``VecEnv``, one batched OT call per step."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from sb3_ot.data.trajectory import Trajectory
from sb3_ot.rewards import OTRewarder
from sb3_ot.wrappers.env import ClaimableRewards, Mode, finite_obs, setup_rewarder

__all__ = ["OTRewardVecEnvWrapper"]


def _env_obs(obs: Any, i: int, key: str | None) -> Any:
    """Env ``i``'s observation out of a batched VecEnv observation (array or dict of arrays)."""
    return obs[key][i] if key is not None else obs[i]


def _check_venv(venv: Any) -> None:
    if isinstance(venv, VecEnv):
        return
    if isinstance(venv, gym.vector.VectorEnv):
        raise ValueError(
            f"OTRewardVecEnvWrapper: venv is a gymnasium vector env ({type(venv).__name__}, e.g. from "
            "gymnasium.make_vec); SB3 trains on its own VecEnv API, which this wrapper extends. Build the envs "
            "with stable_baselines3.common.env_util.make_vec_env(env_id, n_envs) (DummyVecEnv or "
            "SubprocVecEnv), or wrap each env in OTRewardWrapper before gymnasium.vector.SyncVectorEnv / "
            "AsyncVectorEnv"
        )
    raise ValueError(
        f"OTRewardVecEnvWrapper: venv must be an SB3 VecEnv (make_vec_env, DummyVecEnv, SubprocVecEnv); got "
        f"{type(venv).__name__} (wrap a single gymnasium env with OTRewardWrapper instead)"
    )


class OTRewardVecEnvWrapper(VecEnvWrapper, ClaimableRewards):
    """The :class:`~sb3_ot.wrappers.OTRewardWrapper` rewards for all envs of an SB3 ``VecEnv`` at once.

    Each env's episode is recorded here. At a step where several envs finish their episodes, all of
    them are labelled by **one** batched :meth:`OTRewarder.rewards` call (``mode="episode"``); in
    ``mode="step"`` every env's prefix reward is one batched :meth:`OTRewarder.prefix_rewards` call.

    Parameters
    ----------
    venv : VecEnv
        Flat Box observations, or Dict observations (``obs_key``, default ``"observation"``); any
        action space.
    expert, rewarder, mode, obs_key, device
        As :class:`~sb3_ot.wrappers.OTRewardWrapper`. In ``mode="episode"`` ``step_wait`` returns
        zero rewards and the finishing env's ``info["ot_rewards"]`` ``[T]`` holds its episode's
        rewards; :class:`~sb3_ot.wrappers.OTRewardCallback` writes them into SB3's buffers.

    Every ``info["env_reward"]`` keeps the env's own reward.
    """

    def __init__(
        self,
        venv: VecEnv,
        expert: Any,
        rewarder: OTRewarder | None = None,
        *,
        mode: Mode = "episode",
        obs_key: str | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        _check_venv(venv)
        self.obs_key, self.obs_dim, self.rewarder = setup_rewarder(
            venv.observation_space, expert, rewarder, mode, obs_key, "OTRewardVecEnvWrapper", device
        )
        super().__init__(venv)
        self.ot_reward_mode: Mode = mode
        self._obs: list[list[np.ndarray]] = [[] for _ in range(self.num_envs)]

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._obs = [
            [finite_obs(_env_obs(obs, i, self.obs_key), None, 0, "OTRewardVecEnvWrapper.reset")]
            for i in range(self.num_envs)
        ]
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        if not all(self._obs):
            raise RuntimeError("OTRewardVecEnvWrapper.step: call reset() first")
        obs, env_rewards, dones, infos = self.venv.step_wait()
        infos = [dict(info) for info in infos]
        for i in range(self.num_envs):
            infos[i]["env_reward"] = float(env_rewards[i])
            # SB3 VecEnvs reset a finished env at once: its last observation is in the info
            last = infos[i].get("terminal_observation") if dones[i] else None
            last = (
                _env_obs(obs, i, self.obs_key)
                if last is None
                else (last[self.obs_key] if self.obs_key else last)
            )
            self._obs[i].append(finite_obs(last, None, len(self._obs[i]), "OTRewardVecEnvWrapper.step"))
        if self.ot_reward_mode == "step":
            rewards = self.rewarder.prefix_rewards([np.stack(o) for o in self._obs])
        else:
            rewards = np.zeros(self.num_envs, np.float32)
            finished = np.flatnonzero(dones)
            if len(finished):
                trajs = [
                    Trajectory(
                        np.stack(self._obs[i]),
                        None,
                        terminated=not infos[i].get("TimeLimit.truncated", False),
                    )
                    for i in finished
                ]
                for i, r in zip(finished, self.rewarder.rewards(trajs), strict=True):
                    infos[i]["ot_rewards"] = r
                    infos[i]["ot_return"] = float(r.sum())
                self._warn_once_if_unclaimed()
        for i in np.flatnonzero(dones):
            self._obs[i] = [finite_obs(_env_obs(obs, i, self.obs_key), None, 0, "OTRewardVecEnvWrapper.step")]
        return obs, rewards.astype(np.float32), dones, infos

    def unfinished_rewards(self) -> list[np.ndarray]:
        """Rewards ``[t_i]`` of each env's episode in progress (``t_i`` steps so far; empty right after a
        reset): its prefix transported onto the expert's progress-matched prefix, one batched call
        (:meth:`OTRewarder.prefix_rewards` with ``last_only=False``)."""
        running = [i for i in range(self.num_envs) if len(self._obs[i]) > 1]
        out = [np.zeros(0, np.float32) for _ in range(self.num_envs)]
        prefixes = self.rewarder.prefix_rewards([np.stack(self._obs[i]) for i in running], last_only=False)
        for i, r in zip(running, prefixes, strict=True):
            out[i] = r
        return out
