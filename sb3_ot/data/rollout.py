"""Collect :class:`~sb3_ot.data.Trajectory` episodes from a Gymnasium env with any policy."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from sb3_ot.data.trajectory import Trajectory

#: ``policy(obs, t, rng) -> action``; SB3 models plug in as ``lambda o, t, rng: model.predict(o)[0]``.
Policy = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def rollout(
    env: gym.Env | str,
    policy: Policy | None = None,
    *,
    n_episodes: int = 1,
    max_steps: int | None = None,
    seed: int = 0,
) -> list[Trajectory]:
    """Run ``n_episodes`` episodes and return them as trajectories (uniform random actions by default).

    Episode ``k`` resets with seed ``seed + k`` and the policy's generator is seeded with ``seed``, so
    the same arguments give the same trajectories. An episode cut at ``max_steps`` (or truncated by
    the env) has ``terminated=False``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes: expected a positive int, got {n_episodes!r}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps: expected a positive int or None, got {max_steps!r}")
    own = isinstance(env, str)
    env = gym.make(env) if own else env
    env.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_episodes):
        obs, _ = env.reset(seed=seed + k)
        observations, actions, rewards = [obs], [], []
        terminated = truncated = False
        t = 0
        while not (terminated or truncated) and (max_steps is None or t < max_steps):
            act = env.action_space.sample() if policy is None else policy(obs, t, rng)
            obs, rew, terminated, truncated, _ = env.step(act)
            observations.append(obs)
            actions.append(act)
            rewards.append(rew)
            t += 1
        out.append(
            Trajectory(
                obs=np.asarray(observations),
                acts=np.asarray(actions),
                rews=np.asarray(rewards, dtype=np.float64),
                terminated=bool(terminated),
            )
        )
    if own:
        env.close()
    return out


def sinusoidal_policy(
    action_space: gym.spaces.Box, *, seed: int, dt: float = 0.05, noise: float = 0.0
) -> Policy:
    """A scripted open-loop gait for Box action spaces: ``a_t = amp * sin(2 pi freq t dt + phase) + noise``.

    Frequency, amplitudes and phases are drawn from ``seed``; distinct seeds give distinct gaits.
    """
    if not isinstance(action_space, gym.spaces.Box):
        raise ValueError(f"action_space: expected a gymnasium Box, got {type(action_space).__name__}")
    g = np.random.default_rng(seed)
    shape = action_space.shape
    freq = g.uniform(0.5, 2.0)
    phase = g.uniform(0, 2 * np.pi, shape)
    amp = g.uniform(0.3, 1.0, shape)
    low, high = action_space.low, action_space.high
    mid, half = (high + low) / 2, (high - low) / 2

    def policy(obs: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        a = amp * np.sin(2 * np.pi * freq * t * dt + phase) + noise * rng.normal(size=shape)
        return np.clip(mid + half * a, low, high).astype(action_space.dtype)

    return policy
