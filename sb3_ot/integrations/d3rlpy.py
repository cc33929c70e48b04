"""d3rlpy glue: train IQL or BC on an ``MDPDataset`` and evaluate it in the real env as it learns.

d3rlpy (and gymnasium) are imported when a function needs them: importing this module is cheap, so
configs can check their settings against :data:`IQL_PRESETS` before any work starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sb3_ot.data.scores import normalized_score

if TYPE_CHECKING:
    import d3rlpy
    import gymnasium as gym

__all__ = [
    "IQL_PRESETS",
    "OfflineRun",
    "d3rlpy_device",
    "evaluate",
    "make_algo",
    "quiet_d3rlpy_logs",
    "train_offline",
]

#: IQL's published settings (expectile, temperature): locomotion and mazes.
IQL_PRESETS = {"locomotion": (0.7, 3.0), "maze": (0.9, 10.0)}


def d3rlpy_device(device: str | None) -> str:
    """A torch device name as d3rlpy spells it (``cpu:0``, ``cuda:0``); ``None`` is the CPU."""
    if device is None or device == "cpu":
        return "cpu:0"
    return device if ":" in device else f"{device}:0"


def make_algo(
    name: Literal["iql", "bc"],
    *,
    preset: Literal["locomotion", "maze"] = "locomotion",
    batch_size: int = 256,
    hidden: tuple[int, ...] = (256, 256),
    device: str = "cpu:0",
    standardize: bool = False,
    pixels: bool = False,
):
    """A d3rlpy IQL (with the preset's expectile and temperature) or BC, MLPs of ``hidden`` units.

    ``standardize``: observations are standardised with the training data's mean and std (d3rlpy's
    ``StandardObservationScaler``, fitted by :func:`train_offline` before its first evaluation).
    ``pixels``: uint8 frames ``[C, H, W]`` instead: d3rlpy's CNN (``PixelEncoderFactory``, Nature DQN's
    convolutions) on frames scaled to ``[0, 1]`` (``PixelObservationScaler``); ``hidden`` and
    ``standardize`` do not apply.
    """
    import d3rlpy

    encoder: Any = d3rlpy.models.VectorEncoderFactory(list(hidden))
    scaler: Any = d3rlpy.preprocessing.StandardObservationScaler() if standardize else None
    if pixels:
        encoder, scaler = d3rlpy.models.PixelEncoderFactory(), d3rlpy.preprocessing.PixelObservationScaler()
    if name == "iql":
        expectile, temperature = IQL_PRESETS[preset]
        return d3rlpy.algos.IQLConfig(
            batch_size=batch_size,
            expectile=expectile,
            weight_temp=temperature,
            actor_encoder_factory=encoder,
            critic_encoder_factory=encoder,
            value_encoder_factory=encoder,
            observation_scaler=scaler,
        ).create(device)
    if name == "bc":
        return d3rlpy.algos.BCConfig(
            batch_size=batch_size, encoder_factory=encoder, observation_scaler=scaler
        ).create(device)
    raise ValueError(f"name: expected 'iql' or 'bc'; got {name!r}")


def evaluate(
    algo: Any, env: gym.Env | str, *, n_episodes: int = 10, seed: int = 0, obs_key: str | None = None
) -> list[float]:
    """Returns of ``n_episodes`` greedy episodes of a d3rlpy algorithm (reset seeds ``seed + k``)."""
    from sb3_ot.data.rollouts import episode_returns

    def policy(obs: Any, t: int, rng: np.random.Generator) -> np.ndarray:
        x = obs[obs_key or "observation"] if isinstance(obs, dict) else obs
        return algo.predict(np.asarray(x, dtype=np.float32)[None])[0]

    return episode_returns(env, policy, n_episodes=n_episodes, seed=seed)


@dataclass
class OfflineRun:
    """A trained d3rlpy algorithm and its learning curve ``[(update, mean return, normalized score)]``."""

    name: str
    algo: Any
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_return(self) -> float:
        return self.curve[-1][1]

    @property
    def final_score(self) -> float:
        return self.curve[-1][2]


def train_offline(
    name: str,
    algo: Any,
    dataset: d3rlpy.dataset.ReplayBufferBase,
    env_id: str | Callable[[], gym.Env],
    *,
    n_steps: int,
    eval_every: int,
    n_eval_episodes: int = 10,
    ref_scores: tuple[float, float],
    seed: int = 0,
    obs_key: str | None = None,
    progress: bool = True,
    log: Callable[[dict[str, float]], None] | None = None,
) -> OfflineRun:
    """Train ``algo`` for ``n_steps`` updates, evaluating every ``eval_every`` (and before the first).

    ``env_id`` is a Gymnasium id, or a function making the evaluation env (e.g. the real env inside
    :class:`~sb3_ot.world_models.LatentObservationWrapper`, for a policy trained on latents: D-BC).
    ``ref_scores = (random, expert)`` turns returns into D4RL normalized scores (0 random, 100 expert).
    ``log`` receives ``{"<name>/return", "<name>/score", "<name>/update"}`` at every evaluation.
    """
    import d3rlpy

    from sb3_ot.data.envs import make_env

    if n_steps < 1 or eval_every < 1:
        raise ValueError(
            f"train_offline: n_steps and eval_every must be positive ints; got {n_steps}, {eval_every}"
        )
    d3rlpy.seed(seed)
    env = make_env(env_id) if isinstance(env_id, str) else env_id()
    lo, hi = ref_scores
    run = OfflineRun(name, algo)

    def record(update: int) -> None:
        returns = evaluate(algo, env, n_episodes=n_eval_episodes, seed=50_000 + seed, obs_key=obs_key)
        mean = float(np.mean(returns))
        score = normalized_score(mean, lo, hi)
        run.curve.append((update, mean, score))
        if log is not None:
            log({f"{name}/return": mean, f"{name}/score": score, f"{name}/update": update})

    t0 = time.perf_counter()
    try:
        algo.build_with_dataset(dataset)
        scaler = algo.config.observation_scaler
        if scaler is not None and not scaler.built:  # fit() would fit it after the first evaluation
            scaler.fit_with_transition_picker(dataset.episodes, d3rlpy.dataset.BasicTransitionPicker())
        record(0)
        algo.fit(
            dataset,
            n_steps=n_steps,
            n_steps_per_epoch=eval_every,
            show_progress=progress,
            save_interval=10**9,
            logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
            epoch_callback=lambda algo_, epoch, step: record(step),
        )
    finally:
        env.close()
    run.seconds = time.perf_counter() - t0
    return run


def quiet_d3rlpy_logs() -> None:
    """Keep only d3rlpy's errors: it logs every epoch's metrics and model build through structlog, while
    sb3-ot's jobs print their own progress bars and tables."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
