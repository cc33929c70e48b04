"""``OTRewardWrapper``: any Gymnasium env becomes an imitation task rewarded by OT to expert demos."""

from __future__ import annotations

import warnings
from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from sb3_ot.data.trajectory import Trajectory
from sb3_ot.encoders import NormalizedStateEncoder
from sb3_ot.rewards import OTRewarder

__all__ = ["OTRewardWrapper", "UnclaimedRewardWarning", "default_rewarder", "flat_obs_space"]

Mode = Literal["episode", "step"]


def flat_obs_space(space: spaces.Space, obs_key: str | None, func: str) -> tuple[str | None, int]:
    """The dict key (None for Box spaces) and size of the flat observation the OT cost compares.

    Raises a ValueError naming ``obs_key`` for a missing key, or the space for non-flat observations.
    """
    key = None
    if isinstance(space, spaces.Dict):
        key = obs_key or "observation"
        if key not in space.spaces:
            raise ValueError(
                f"{func}: obs_key {key!r} is not in the env's Dict observation space; keys: {list(space.spaces)}"
            )
        space = space.spaces[key]
    elif obs_key is not None:
        raise ValueError(
            f"{func}: obs_key={obs_key!r} given but the env's observations are not a Dict ({space})"
        )
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"{func}: observations must be flat Box vectors [obs_dim]; got {space}")
    return key, int(space.shape[0])


#: Smallest per-dimension standard deviation of the default rewarder's standardisation, in observation
#: units. An expert that holds a dimension nearly constant (a balancing pendulum) would otherwise put
#: every other value so far away that every reward is 0 and Sinkhorn cannot converge
#: (docs/benchmarks.md has the InvertedDoublePendulum case).
DEFAULT_MIN_STD = 0.25


def default_rewarder(
    obs_key: str | None = None, mode: Mode = "episode", device: str | torch.device | None = None
) -> OTRewarder:
    """The online default: squared Euclidean OT on states standardised by the expert's statistics
    (each dimension's std floored at :data:`DEFAULT_MIN_STD`), ``r_i = exp(-5 T c_i)`` (OTR's beta = 5
    on a per-dimension cost). ``mode="step"`` solves its small prefix problems exactly
    (``solver="exact"``, faster than Sinkhorn at small eps for a few hundred steps); ``"episode"`` uses
    the batched Sinkhorn engine, annealing eps (``eps_scaling=4``).
    ``device`` is where the features, the OT and the rewards are computed (default: the CPU).
    """
    return OTRewarder(
        NormalizedStateEncoder(obs_key=obs_key, min_std=DEFAULT_MIN_STD),
        cost="sqeuclidean",
        scale=5.0,
        obs_key=obs_key,
        solver="exact" if mode == "step" else "sinkhorn",
        eps_scaling=4.0,  # states far from a near-static expert cost many times eps: anneal down to it
        device=device,
    )


def setup_rewarder(
    space: spaces.Space,
    expert: Any,
    rewarder: OTRewarder | None,
    mode: str,
    obs_key: str | None,
    func: str,
    device: str | torch.device | None = None,
) -> tuple[str | None, int, OTRewarder]:
    """What both OT reward wrappers start with: the mode checked, the observation key and size
    (:func:`flat_obs_space`), the rewarder (default: :func:`default_rewarder` on ``device``) given the
    expert, and the expert's observation size checked against the env's. Errors name ``func``."""
    if mode not in ("episode", "step"):
        raise ValueError(f"{func}: mode must be 'episode' or 'step'; got {mode!r}")
    if rewarder is not None and device is not None:
        raise ValueError(
            f"{func}: device is for the default rewarder; give it to the rewarder you pass instead"
        )
    key, obs_dim = flat_obs_space(space, obs_key, func)
    rewarder = rewarder if rewarder is not None else default_rewarder(key, mode, device)  # type: ignore[arg-type]
    rewarder.set_expert(expert)
    expert_dim = rewarder.encoder.obs_dim
    if expert_dim != obs_dim:
        where = f"the env's {key!r} observations" if key else "the env's observations"
        raise ValueError(
            f"{func}: expert observations have obs_dim {expert_dim} but {where} have {obs_dim}; "
            "give demonstrations of this env (and obs_key for Dict observations)"
        )
    return key, obs_dim, rewarder


class UnclaimedRewardWarning(UserWarning):
    """Episode-mode OT rewards were computed but nothing has said it reads them."""


class ClaimableRewards:
    """What both episode-mode OT wrappers share: whether something reads ``info["ot_rewards"]``, and the
    one warning given when nothing does."""

    ot_rewards_claimed: bool = False

    def claim_ot_rewards(self) -> None:
        """Say that something reads ``info["ot_rewards"]`` (silences the unclaimed-rewards warning)."""
        self.ot_rewards_claimed = True

    def _warn_once_if_unclaimed(self) -> None:
        if self.ot_rewards_claimed:
            return
        warnings.warn(
            f"{type(self).__name__}(mode='episode'): step() returns reward 0 and the episode's OT rewards "
            "are in info['ot_rewards'], but nothing has claimed them, so a learner that reads only the "
            "reward trains on zeros. With SB3 pass callback=OTRewardCallback() to learn(); a loop that reads "
            "info['ot_rewards'] itself calls claim_ot_rewards() on the wrapper first; or use mode='step'.",
            UnclaimedRewardWarning,
            stacklevel=4,
        )
        self.ot_rewards_claimed = True  # once


def finite_obs(obs: Any, key: str | None, t: int, func: str) -> np.ndarray:
    x = np.asarray(obs[key] if key is not None else obs, dtype=np.float32).reshape(-1)
    if not np.isfinite(x).all():
        raise ValueError(f"{func}: observation at step {t} holds NaN or inf: {x}")
    return x.copy()


class OTRewardWrapper(gym.Wrapper, ClaimableRewards):
    """Replace an env's reward by an OT imitation reward against expert demonstrations.

    Parameters
    ----------
    env : gymnasium.Env
        Any env with flat Box observations, or Dict observations (``obs_key``, default
        ``"observation"``); any action space.
    expert : Trajectory, list of Trajectory, observation arrays ``[T+1, obs_dim]`` or a local Minari
        dataset id
        The demonstrations (observations only are used).
    rewarder : OTRewarder, optional
        Default: :func:`default_rewarder` (squared Euclidean OT on expert-standardised states).
        ``AILOTRewarder`` / ``OTRRewarder`` work too.
    mode : {"episode", "step"}
        ``"episode"``: the faithful OT reward. ``step()`` returns 0 during the episode and, at its last
        step, ``info["ot_rewards"]`` holds the rewarder's per-step rewards ``[T]`` of the whole episode
        (and ``info["ot_return"]`` their sum). With SB3, :class:`~sb3_ot.wrappers.OTRewardCallback`
        writes them into the replay or rollout buffer; other learners read them from the info.
        ``"step"``: a causal reward returned by every ``step()``: the reward of the newest transition when
        the episode so far (``t`` transitions) is transported onto the expert's first ``t`` steps
        (:meth:`OTRewarder.prefix_rewards`). It costs one ``t x min(t, M)`` OT problem at step ``t``,
        which the default rewarder solves exactly (timings in ``docs/benchmarks.md``).
    obs_key : str, optional
        Key of Dict observations.
    device : str or torch.device, optional
        Where the default rewarder computes (features, OT, rewards); default the CPU. A rewarder you
        pass carries its own ``device``.

    The env's own reward is kept in ``info["env_reward"]``. In episode mode, a warning is given once, at
    the first finished episode, if nothing has claimed the rewards (:meth:`claim_ot_rewards`, which
    :class:`~sb3_ot.wrappers.OTRewardCallback` calls).
    """

    def __init__(
        self,
        env: gym.Env,
        expert: Any,
        rewarder: OTRewarder | None = None,
        *,
        mode: Mode = "episode",
        obs_key: str | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__(env)
        self.obs_key, self.obs_dim, self.rewarder = setup_rewarder(
            env.observation_space, expert, rewarder, mode, obs_key, "OTRewardWrapper", device
        )
        self.mode: Mode = mode
        self._obs: list[np.ndarray] = []

    @property
    def ot_reward_mode(self) -> Mode:
        """The mode, under the name OTRewardCallback looks up through a VecEnv (``get_attr``)."""
        return self.mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = [finite_obs(obs, self.obs_key, 0, "OTRewardWrapper.reset")]
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._obs:
            raise RuntimeError("OTRewardWrapper.step: call reset() first")
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        self._obs.append(finite_obs(obs, self.obs_key, len(self._obs), "OTRewardWrapper.step"))
        info = dict(info)
        info["env_reward"] = env_reward
        if self.mode == "step":
            reward = float(self.rewarder.prefix_rewards([np.stack(self._obs)])[0])
        else:
            reward = 0.0
            if terminated or truncated:
                traj = Trajectory(np.stack(self._obs), None, terminated=bool(terminated))
                rewards = self.rewarder.rewards([traj])[0]
                info["ot_rewards"] = rewards
                info["ot_return"] = float(rewards.sum())
                self._warn_once_if_unclaimed()
        return obs, reward, terminated, truncated, info

    def unfinished_rewards(self) -> np.ndarray:
        """Rewards ``[t]`` of the episode in progress (``t`` steps so far; empty right after a reset): its
        prefix transported onto the expert's progress-matched prefix
        (:meth:`OTRewarder.prefix_rewards` with ``last_only=False``). ``OTRewardCallback`` uses them for
        an episode that PPO's rollout cuts."""
        if len(self._obs) < 2:
            return np.zeros(0, np.float32)
        return self.rewarder.prefix_rewards([np.stack(self._obs)], last_only=False)[0]

    def episode_observations(self) -> np.ndarray:
        """The current episode's observations so far ``[t+1, obs_dim]`` (float32)."""
        return np.stack(self._obs)
