"""Rebuild ``examples/data/pendulum-expert-v0``: the one-episode Pendulum-v1 demonstration that the
examples, ``zoo_configs/`` and ``benchmarks/online_imitation.py`` imitate.

It is one deterministic episode (reset seed 10001) of the SB3 SAC expert that
``sb3_ot.datasets.train_expert("Pendulum-v1")`` trains (20k steps, a few minutes on a CPU, cached), saved
as a local Minari dataset folder with the expert run's reference returns. The folder is committed
(about 40 kB) so that the examples and the zoo command run on a fresh clone without training anything.

Usage: python examples/make_demo.py
"""

from __future__ import annotations

from pathlib import Path

from sb3_ot.data import rollout, save_minari
from sb3_ot.datasets import train_expert

ENV_ID, DEMO_SEED = "Pendulum-v1", 10_001
OUT = Path(__file__).resolve().parent / "data" / "pendulum-expert-v0"


def main() -> None:
    run = train_expert(ENV_ID)
    demo = rollout(ENV_ID, run.policy("expert", deterministic=True), n_episodes=1, seed=DEMO_SEED)
    save_minari(  # atomic: the old demo stays in place until the new one is complete
        demo,
        OUT.name,
        env=ENV_ID,
        algorithm_name=f"SB3 SAC expert ({run.config.steps} steps, seed {run.seed}), reset seed {DEMO_SEED}",
        author="sb3-ot",
        ref_min_score=run.random_return,
        ref_max_score=run.expert_return,
        description="One deterministic expert episode of Pendulum-v1 (examples/make_demo.py).",
        overwrite=True,
        data_path=OUT.parent,
    )
    print(
        f"{OUT}: 1 episode, return {demo[0].rews.sum():.1f} (expert {run.expert_return:.1f}, random {run.random_return:.1f})"
    )


if __name__ == "__main__":
    main()
