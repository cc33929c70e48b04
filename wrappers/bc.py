"""``BCTermCallback``: a behaviour-cloning term for SB3's on-policy learners (PPO, A2C).

CMIL's actor adds ``bc_coef x`` the negative log-likelihood of the expert's actions to its loss and
starts from a few pure BC steps. SB3's ``PPO.train`` has no hook for an extra loss term, so this callback
applies the same term as separate gradient steps on the policy's own optimizer, interleaved with PPO's:
``pretrain_steps`` steps before the first rollout, then after every PPO update as many BC steps as PPO
took minibatch steps (``n_epochs x rollout_size / batch_size``), each on ``coef * -log pi(a_E | s_E)`` of a
random minibatch of expert pairs (with PPO's gradient clipping). Alternating steps on one Adam optimizer
approximate the joint loss's gradient (the sum) step for step; it works with any ``ActorCriticPolicy``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from sb3_ot._args import check_float, check_int
from sb3_ot.data.trajectory import Trajectory, state_action_pairs

__all__ = ["BCTermCallback"]


class BCTermCallback(BaseCallback):
    """Add ``coef * -log pi(a_E | s_E)`` on expert pairs to an on-policy learner's updates.

    Args:
        demos: expert trajectories with actions (Box observations ``[T+1, obs_dim]`` -- latents, for a
            policy trained in imagination -- and actions ``[T, act_dim]``, or ``[T]`` for Discrete).
        coef: the BC term's weight (CMIL: 10).
        pretrain_steps: pure BC steps before the first rollout (CMIL: 100).
        gradient_steps: BC steps after each update; ``None``: as many as the learner's minibatch steps.
        batch_size: expert pairs per BC step.
        seed: the minibatch sampler's seed.

    ``model.learn(n, callback=BCTermCallback(demos, coef=10))``; logs ``bc/nll`` (the expert pairs'
    mean negative log-likelihood after the last BC step) and ``bc/steps``.
    """

    def __init__(
        self,
        demos: Sequence[Trajectory],
        *,
        coef: float = 1.0,
        pretrain_steps: int = 0,
        gradient_steps: int | None = None,
        batch_size: int = 256,
        seed: int | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        func = "BCTermCallback"
        self.obs, self.acts = state_action_pairs(demos, func, "the BC term needs the expert's actions")
        self.coef = check_float(coef, "coef", func)
        self.pretrain_steps = check_int(pretrain_steps, "pretrain_steps", func, minimum=0)
        self.gradient_steps = (
            None if gradient_steps is None else check_int(gradient_steps, "gradient_steps", func)
        )
        self.batch_size = check_int(batch_size, "batch_size", func)
        self._rng = np.random.default_rng(seed)
        self._pending = False  # a PPO update happened since the last BC steps
        self.steps = 0

    def _init_callback(self) -> None:
        func = "BCTermCallback"
        if not isinstance(self.model, OnPolicyAlgorithm):
            raise ValueError(
                f"{func}: needs an on-policy learner (PPO, A2C); got {type(self.model).__name__}"
            )
        obs_space, act_space = self.model.observation_space, self.model.action_space
        if not isinstance(obs_space, spaces.Box) or self.obs.shape[1:] != obs_space.shape:
            raise ValueError(
                f"{func}: demos' observations {self.obs.shape[1:]} do not match the learner's observation "
                f"space {obs_space}"
            )
        if isinstance(act_space, spaces.Discrete):
            if self.acts.ndim != 1 or not np.all((self.acts >= 0) & (self.acts < act_space.n)):
                raise ValueError(
                    f"{func}: demos' actions must be integers in [0, {act_space.n}) for {act_space}"
                )
        elif not isinstance(act_space, spaces.Box) or self.acts.shape[1:] != act_space.shape:
            raise ValueError(
                f"{func}: demos' actions {self.acts.shape[1:]} do not match the learner's action space {act_space}"
            )

    def _minibatch_steps(self) -> int:
        """PPO's gradient steps per update (A2C: one)."""
        model = self.model
        rollout = model.n_steps * model.n_envs
        batch = getattr(model, "batch_size", rollout)
        return getattr(model, "n_epochs", 1) * math.ceil(rollout / batch)

    def _bc_steps(self, n: int) -> None:
        policy = self.model.policy
        policy.set_training_mode(True)
        for _ in range(n):
            idx = self._rng.integers(len(self.obs), size=min(self.batch_size, len(self.obs)))
            obs = torch.as_tensor(self.obs[idx], device=policy.device)
            acts = torch.as_tensor(self.acts[idx], device=policy.device)
            if isinstance(self.model.action_space, spaces.Discrete):
                acts = acts.long().flatten()
            _, log_prob, _ = policy.evaluate_actions(obs, acts)
            loss = -self.coef * log_prob.mean()
            policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), self.model.max_grad_norm)
            policy.optimizer.step()
        policy.set_training_mode(False)
        self.steps += n
        nll = float(-log_prob.detach().mean())
        if not math.isfinite(nll):
            raise RuntimeError(f"BCTermCallback: the expert pairs' negative log-likelihood is {nll}")
        self.logger.record("bc/nll", nll)
        self.logger.record("bc/steps", self.steps)

    def _on_training_start(self) -> None:
        if self.pretrain_steps:
            self._bc_steps(self.pretrain_steps)

    def _on_rollout_start(self) -> None:
        if self._pending:  # PPO trained on the previous rollout: its BC steps now
            self._bc_steps(self.gradient_steps or self._minibatch_steps())
            self._pending = False

    def _on_rollout_end(self) -> None:
        self._pending = True

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._on_rollout_start()  # the last update's BC steps
