"""Collect :class:`~sb3_ot.data.Trajectory` episodes from a Gymnasium env with any policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from sb3_ot._args import check_bounded_box, check_float, check_int
from sb3_ot.data.envs import ensure_registered, make_env
from sb3_ot.data.trajectory import Trajectory

#: ``policy(obs, t, rng) -> action``; SB3 models plug in through :func:`sb3_policy`.
Policy = Callable[[Any, int, np.random.Generator], Any]


def stack_steps(observations: list[Any]) -> np.ndarray | dict[str, np.ndarray]:
    """Per-step observations (arrays, or dicts of arrays) stacked to ``[T+1, ...]`` (a dict of them)."""
    if isinstance(observations[0], Mapping):
        return {key: np.asarray([o[key] for o in observations]) for key in observations[0]}
    return np.asarray(observations)


def slice_obs(obs: np.ndarray | Mapping[str, np.ndarray], rows: slice) -> np.ndarray | dict[str, np.ndarray]:
    """``obs[rows]`` for array or dict observations."""
    if isinstance(obs, Mapping):
        return {key: value[rows] for key, value in obs.items()}
    return obs[rows]


def rollout(
    env: gym.Env | str,
    policy: Policy | None = None,
    *,
    n_episodes: int | None = 1,
    max_steps: int | None = None,
    total_steps: int | None = None,
    seed: int = 0,
    info_keys: Sequence[str] = (),
    progress: bool = False,
) -> list[Trajectory]:
    """Run episodes of ``policy`` (uniform random actions by default) and return them as trajectories.

    Parameters
    ----------
    env : gymnasium.Env or str
        An env, or an env id (gymnasium-robotics ids such as ``PointMaze_Medium-v3`` included).
    policy : Policy or None
        ``policy(obs, t, rng) -> action``; ``None`` samples the action space.
    n_episodes : int or None
        Number of episodes; ``None`` runs episodes until ``total_steps`` are collected.
    max_steps : int or None
        Cut every episode after this many steps (a time-out: ``terminated=False``).
    total_steps : int or None
        Stop once this many steps are collected in all, cutting the last episode (a time-out), so
        the trajectories hold exactly ``total_steps`` steps (fewer if ``n_episodes`` ends first).
    seed : int
        Episode ``k`` resets with seed ``seed + k``; the action space and the policy's generator are
        seeded with ``seed``, so the same arguments give the same trajectories.
    info_keys : Sequence[str]
        Step-info entries to keep as per-step ``infos`` (``[T]`` arrays); missing ones raise.
    progress : bool
        Show a tqdm bar over steps (``total_steps``) or episodes.

    Returns
    -------
    list[Trajectory]
        ``obs [T+1, ...]`` (a dict for Dict observation spaces), ``acts [T, ...]``, ``rews [T]``
        (float64). An episode ends ``terminated=True`` only when the env says so.

    Raises
    ------
    ValueError
        For a count that is not a positive int (numpy integers are fine) or ``None``, a negative
        ``seed``, ``n_episodes`` and ``total_steps`` both ``None``, an unknown env id, a ``policy``
        that is not callable, or an info key the env does not report.
    """
    func = "rollout"
    n_episodes, max_steps, total_steps = (
        None if value is None else check_int(value, name, func)
        for name, value in (
            ("n_episodes", n_episodes),
            ("max_steps", max_steps),
            ("total_steps", total_steps),
        )
    )
    if n_episodes is None and total_steps is None:
        raise ValueError(f"{func}: n_episodes=None needs total_steps to bound the rollout; got both None")
    seed = check_int(seed, "seed", func, minimum=0)
    if policy is not None and not callable(policy):
        raise ValueError(f"{func}: policy must be callable as policy(obs, t, rng) or None; got {policy!r}")
    own = isinstance(env, str)
    if own:
        ensure_registered(env, func=func)
        env = make_env(env)
    env.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    out: list[Trajectory] = []
    collected = 0
    by_steps = total_steps is not None
    bar = tqdm(
        total=total_steps if by_steps else n_episodes,
        unit="step" if by_steps else "episode",
        disable=not progress,
        desc="rollout",
    )
    try:
        while (n_episodes is None or len(out) < n_episodes) and (
            total_steps is None or collected < total_steps
        ):
            limits = [n for n in (max_steps, total_steps - collected if by_steps else None) if n is not None]
            step_bar = bar if by_steps else None
            out.append(
                _episode(env, policy, rng, seed + len(out), min(limits, default=None), info_keys, step_bar)
            )
            collected += out[-1].n_steps
            if not by_steps:
                bar.update()
    finally:
        bar.close()
        if own:
            env.close()
    return out


def _episode(
    env: gym.Env,
    policy: Policy | None,
    rng: np.random.Generator,
    reset_seed: int,
    limit: int | None,
    info_keys: Sequence[str],
    step_bar: tqdm | None,
) -> Trajectory:
    """One episode from ``env.reset(seed=reset_seed)``, cut after ``limit`` steps (a time-out)."""
    obs, _ = env.reset(seed=reset_seed)
    observations, actions, rewards = [obs], [], []
    infos: dict[str, list[Any]] = {key: [] for key in info_keys}
    terminated = truncated = False
    while not (terminated or truncated) and (limit is None or len(actions) < limit):
        act = env.action_space.sample() if policy is None else policy(obs, len(actions), rng)
        obs, rew, terminated, truncated, info = env.step(act)
        observations.append(obs)
        actions.append(act)
        rewards.append(rew)
        for key in info_keys:
            if key not in info:
                raise ValueError(
                    f"rollout: info_keys: {key!r} is not in the env's step info; it has {sorted(info)}"
                )
            infos[key].append(info[key])
        if step_bar is not None:
            step_bar.update()
    return Trajectory(
        obs=stack_steps(observations),
        acts=np.asarray(actions),
        rews=np.asarray(rewards, dtype=np.float64),
        terminated=bool(terminated),
        infos={key: np.asarray(value) for key, value in infos.items()},
    )


def episode_returns(
    env: gym.Env | str,
    policy: Policy | None = None,
    *,
    n_episodes: int,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Undiscounted returns of ``n_episodes`` :func:`rollout` episodes (same seeding)."""
    trajs = rollout(env, policy, n_episodes=n_episodes, seed=seed, progress=progress)
    return [float(t.rews.sum()) for t in trajs]  # type: ignore[union-attr]


def sb3_policy(model: Any, *, deterministic: bool = False) -> Policy:
    """Wrap an SB3 model or policy (anything with ``predict(obs, deterministic=...)``) as a :data:`Policy`.

    Stochastic actions draw from torch's generator: seed it (``stable_baselines3.common.utils.
    set_random_seed``) for reproducible rollouts.
    """
    if not hasattr(model, "predict"):
        raise ValueError(
            f"sb3_policy: model must be an SB3 model or policy with predict(); got {type(model).__name__}"
        )

    def policy(obs: Any, t: int, rng: np.random.Generator) -> np.ndarray:
        return model.predict(obs, deterministic=deterministic)[0]

    return policy


def sinusoidal_policy(
    action_space: gym.spaces.Box, *, seed: int, dt: float = 0.05, noise: float = 0.0
) -> Policy:
    """A scripted open-loop gait for Box action spaces: ``a_t = amp * sin(2 pi freq t dt + phase) + noise``.

    Frequency, amplitudes and phases are drawn from ``seed``; distinct seeds give distinct gaits.
    """
    func = "sinusoidal_policy"
    low, high = check_bounded_box(action_space, func, "the gait spans its range")
    dt = check_float(dt, "dt", func)
    noise = check_float(noise, "noise", func, low_open=False)
    g = np.random.default_rng(check_int(seed, "seed", func, minimum=0))
    shape = action_space.shape
    freq = g.uniform(0.5, 2.0)
    phase = g.uniform(0, 2 * np.pi, shape)
    amp = g.uniform(0.3, 1.0, shape)
    mid, half = (high + low) / 2, (high - low) / 2

    def policy(obs: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
        a = amp * np.sin(2 * np.pi * freq * t * dt + phase) + noise * rng.normal(size=shape)
        return np.clip(mid + half * a, low, high).astype(action_space.dtype)

    return policy
