"""How the SB3 expert of each env is trained: algorithm, budget, evaluation and checkpoint cadence.

Plain data (no Stable-Baselines3 import): :func:`~sb3_ot.datasets.experts.train_expert` turns a
config into a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sb3_ot._args import check_choice, check_int

__all__ = ["ALGOS", "EXPERT_CONFIGS", "ExpertConfig", "expert_config"]

#: Algorithms an expert can be trained with (Stable-Baselines3's SAC, TD3 and PPO).
ALGOS = ("sac", "td3", "ppo")


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

    Raises
    ------
    ValueError
        For an ``algo`` not in :data:`ALGOS` or a ``steps`` that is not a positive int.
    """
    return resolve_config(env_id, algo, steps, func="expert_config")


def resolve_config(
    env_id: str, algo: str | None, steps: int | None, *, func: str, steps_name: str = "steps"
) -> ExpertConfig:
    """:func:`expert_config`, with errors that name ``func`` and call ``steps`` ``steps_name``."""
    base = EXPERT_CONFIGS.get(env_id, ExpertConfig())
    if algo is not None:
        algo = check_choice(algo.lower() if isinstance(algo, str) else algo, "algo", func, ALGOS)
        if algo != base.algo:
            base = ExpertConfig(
                algo, base.steps, base.eval_every, base.n_eval_episodes, base.checkpoint_every
            )
    if steps is not None:
        steps = check_int(steps, steps_name, func)
        base = ExpertConfig(
            base.algo,
            steps,
            min(base.eval_every, steps),
            base.n_eval_episodes,
            min(base.checkpoint_every, steps),
            dict(base.hyperparams),
            base.expected_return if steps >= base.steps else None,
        )
    return base
