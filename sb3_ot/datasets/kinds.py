"""Names and sizes of the local D4RL-style datasets: kinds, suites, ids, default sizes.

Pure Python on purpose: the ``sb3-ot`` command reads these to build its argument parser, and importing
this module must not pull in Stable-Baselines3, Minari or Gymnasium.
"""

from __future__ import annotations

from sb3_ot._args import check_choice, check_int

__all__ = [
    "DEFAULT_STEPS",
    "FALLBACK_STEPS",
    "KINDS",
    "NAMESPACE",
    "NOISY_STD",
    "SUITES",
    "dataset_id",
]

#: D4RL's dataset kinds, then ``noisy``: the expert with Gaussian action noise of :data:`NOISY_STD` times
#: each action dimension's half-range (DDPG's and TD3's exploration noise), perturbed but mostly successful
#: behaviour around the expert's paths.
KINDS = ("random", "medium", "expert", "medium-replay", "medium-expert", "noisy")
#: The ``noisy`` kind's Gaussian std, as a fraction of each action dimension's half-range.
NOISY_STD = 0.2
#: Minari namespace of every dataset sb3-ot builds.
NAMESPACE = "sb3_ot"
#: Default number of transitions of the ``random``/``medium``/``expert`` datasets of an env.
DEFAULT_STEPS = {"Pendulum-v1": 20_000}
#: The default for envs without an entry in :data:`DEFAULT_STEPS`.
FALLBACK_STEPS = 100_000
#: Named benchmark suites: env ids whose datasets (all kinds) are built together.
SUITES: dict[str, tuple[str, ...]] = {
    "small": ("Pendulum-v1", "HalfCheetah-v5", "PointMaze_Medium-v3"),
}


def dataset_id(env_id: str, kind: str, version: int = 0) -> str:
    """``sb3_ot/<env_id>/<kind>-v<version>``."""
    check_choice(kind, "kind", "dataset_id", KINDS)
    return f"{NAMESPACE}/{env_id}/{kind}-v{check_int(version, 'version', 'dataset_id', minimum=0)}"
