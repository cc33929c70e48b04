"""``OTRewardCallback``: episode-mode OT rewards written into SB3's replay and rollout buffers."""

from __future__ import annotations

import warnings
from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from sb3_ot.wrappers.env import OTRewardWrapper
from sb3_ot.wrappers.vec_env import OTRewardVecEnvWrapper

__all__ = ["OTRewardCallback"]


class OTRewardCallback(BaseCallback):
    """Write the OT rewards of ``mode="episode"`` wrappers into the learner's buffer.

    Use it with an env made of :class:`~sb3_ot.wrappers.OTRewardWrapper` envs (e.g.
    ``make_vec_env(..., wrapper_class=OTRewardWrapper, wrapper_kwargs=...)``) or wrapped in
    :class:`~sb3_ot.wrappers.OTRewardVecEnvWrapper`: ``model.learn(n, callback=OTRewardCallback())``.
    The wrappers return 0 during an episode and put the whole episode's rewards ``[T]`` in the info of
    its last step; this callback remembers where each step was stored and adds the rewards there.

    **Off-policy** (SAC, TD3, DDPG, DQN, ``HerReplayBuffer``): when an episode ends, its rewards are added
    to its transitions in ``replay_buffer.rewards`` as soon as SB3 has stored the last one (before the
    next gradient step). Transitions of an episode still running sit in the buffer with reward 0 until
    it ends (at most one episode per env, a small share of a replay buffer). With ``HerReplayBuffer``
    the written rewards are those of the real transitions; relabelled ones keep ``env.compute_reward``.

    **On-policy** (PPO, A2C): at the end of each rollout, before the update, every episode that ended in
    the rollout gets its rewards added on its steps in the rollout, and the rollout buffer's returns and
    advantages are computed again (``compute_returns_and_advantage`` with the rollout's last values,
    so PPO's time-out bootstrap ``gamma * V(s_T)`` added to a truncated step is kept).

    **Episodes cut by a rollout boundary** (on-policy): an episode still running at the rollout's end has
    no whole-episode reward yet. Its steps in this rollout get the causal prefix reward: the episode so
    far, transported onto the expert's progress-matched prefix (:meth:`OTRewarder.prefix_rewards`, the
    ``mode="step"`` definition applied to every step of the prefix). Its steps in the next rollout get
    the whole-episode rewards when it ends there. With PPO on Pendulum (``n_steps`` 1024, 200-step
    episodes) this concerns about 1 episode in 5.

    Logs ``ot/ep_return_mean``, the mean OT return of the last 100 episodes.
    """

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self._positions: list[list[int]] = []
        self._pending: list[tuple[int, list[int], np.ndarray]] = []
        self._returns: deque[float] = deque(maxlen=100)
        self._vec_source: OTRewardVecEnvWrapper | None = None

    # ----------------------------------------------------------------------- setup
    def _init_callback(self) -> None:
        env = self.training_env
        vec_source = None
        layer: VecEnv = env
        while isinstance(layer, VecEnvWrapper):
            if isinstance(layer, OTRewardVecEnvWrapper):
                vec_source = layer
                break
            if (
                isinstance(layer, VecNormalize)
                and layer.norm_reward
                and isinstance(self.model, OnPolicyAlgorithm)
            ):
                warnings.warn(
                    "OTRewardCallback: VecNormalize(norm_reward=True) scales the rollout's rewards but the OT "
                    "rewards are written unscaled; use norm_reward=False with mode='episode'",
                    stacklevel=2,
                )
            layer = layer.venv
        if vec_source is not None:
            mode = vec_source.ot_reward_mode
        elif all(env.env_is_wrapped(OTRewardWrapper)):
            mode = "episode" if set(env.get_attr("ot_reward_mode")) == {"episode"} else "step"
        else:
            raise ValueError(
                "OTRewardCallback: the training env has no OT reward wrapper; wrap every env in "
                "OTRewardWrapper(mode='episode') or the VecEnv in OTRewardVecEnvWrapper(mode='episode')"
            )
        if mode != "episode":
            raise ValueError(
                "OTRewardCallback: the OT reward wrappers are in mode='step', whose rewards already reach the "
                "buffer through step(); the callback is for mode='episode'"
            )
        if not isinstance(self.model, OffPolicyAlgorithm | OnPolicyAlgorithm):
            raise ValueError(
                f"OTRewardCallback: expected an SB3 off-policy or on-policy algorithm; got {type(self.model).__name__}"
            )
        self._vec_source = vec_source
        self._claim(env, vec_source)
        if len(self._positions) != env.num_envs:
            self._positions = [[] for _ in range(env.num_envs)]

    @staticmethod
    def _claim(env: VecEnv, vec_source: OTRewardVecEnvWrapper | None) -> None:
        """Tell the wrappers their rewards are read here (they warn at the first episode otherwise)."""
        if vec_source is not None:
            vec_source.claim_ot_rewards()
        else:
            env.env_method("claim_ot_rewards")

    def _on_training_start(self) -> None:
        if self.model.num_timesteps == 0:  # learn() reset the env: every episode starts afresh
            self._positions = [[] for _ in range(self.training_env.num_envs)]
            self._pending = []

    @property
    def _buffer(self) -> ReplayBuffer | RolloutBuffer:
        if isinstance(self.model, OffPolicyAlgorithm):
            return self.model.replay_buffer  # type: ignore[return-value]
        return self.model.rollout_buffer  # type: ignore[attr-defined]

    # ----------------------------------------------------------------------- steps
    def _on_step(self) -> bool:
        buffer = self._buffer
        if isinstance(self.model, OffPolicyAlgorithm):
            self._flush(buffer)  # the last step's finished episodes are stored by now
        pos = int(buffer.pos)  # where SB3 stores this step once the callback returns
        infos: list[dict[str, Any]] = self.locals["infos"]
        for i, info in enumerate(infos):
            self._positions[i].append(pos)
            # an episode that never ends: keep no more positions than the buffer holds
            if len(self._positions[i]) > 2 * buffer.buffer_size:
                del self._positions[i][: -buffer.buffer_size]
            if "ot_rewards" in info:
                self._queue(i, self._positions[i], info["ot_rewards"], buffer.buffer_size)
                self._returns.append(float(info.get("ot_return", np.sum(info["ot_rewards"]))))
                self._positions[i] = []
        if self._returns:
            self.logger.record("ot/ep_return_mean", float(np.mean(self._returns)))
        return True

    def _queue(self, i: int, positions: list[int], rewards: Any, size: int) -> None:
        """Pair env ``i``'s last rewards with its last buffer positions: a callback started mid-episode
        saw fewer steps than the episode has, an episode longer than the buffer overwrote its first
        steps, and a cut episode's prefix covers steps of earlier rollouts too."""
        n = min(len(positions), len(rewards), size)
        if n:
            rewards = np.asarray(rewards, dtype=np.float32)
            self._pending.append((i, positions[len(positions) - n :], rewards[len(rewards) - n :]))

    def _flush(self, buffer: ReplayBuffer | RolloutBuffer) -> None:
        for i, positions, rewards in self._pending:
            buffer.rewards[np.asarray(positions), i] += rewards
        self._pending = []

    def _on_rollout_end(self) -> None:
        buffer = self._buffer
        if isinstance(self.model, OnPolicyAlgorithm):
            running = [i for i, p in enumerate(self._positions) if p]
            if running:  # episodes cut by the rollout's end: causal prefix rewards for their steps so far
                if self._vec_source is not None:
                    prefix = self._vec_source.unfinished_rewards()
                else:
                    prefix = self.training_env.env_method("unfinished_rewards", indices=running)
                    prefix = dict(zip(running, prefix, strict=True))  # type: ignore[assignment]
                for i in running:
                    self._queue(i, self._positions[i], prefix[i], buffer.buffer_size)
            self._positions = [[] for _ in self._positions]  # the next rollout fills a new buffer
        self._flush(buffer)
        if not isinstance(self.model, OnPolicyAlgorithm):
            return
        assert isinstance(buffer, RolloutBuffer)
        buffer.compute_returns_and_advantage(last_values=self.locals["values"], dones=self.locals["dones"])
