"""PPO learns Pendulum inside a learned world model and never touches the real env while it learns (DITTO).

1. ``WorldModel`` is fitted on random-action episodes of the real env (dynamics only: no expert, no reward).
2. ``ImaginationStarts`` encodes the expert's demonstration (one observation-only episode) into latents.
3. ``ImaginationVecEnv``: 64 imagined envs, one batched model call per step; each episode starts at an
   expert latent and lasts 15 steps; ``LatentRewarder`` pays DITTO's latent similarity to the expert at
   the same time offset.
4. SB3 PPO learns there; ``LatentObservationWrapper`` deploys the latent policy in the real env.

Usage:
  python examples/ppo_imagination_pendulum.py            # ~3 min on a 2-core CPU
  python examples/ppo_imagination_pendulum.py --quick    # tiny model, 2 small rollouts: checks the flow (CI)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from sb3_ot.data import rollout
from sb3_ot.rewards import LatentRewarder
from sb3_ot.world_models import ImaginationStarts, ImaginationVecEnv, LatentObservationWrapper, WorldModel

DEMO = Path(__file__).resolve().parent / "data" / "pendulum-expert-v0"  # examples/make_demo.py


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="tiny model, two small rollouts: checks the flow runs"
    )
    p.add_argument("--steps", type=int, default=200_000, help="imagined PPO steps")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    env = gym.make("Pendulum-v1")
    episodes, updates = (6, 20) if args.quick else (100, 2000)
    sizes = dict(latent_dim=8, hidden=(32, 32)) if args.quick else dict(latent_dim=32, hidden=(128, 128))
    data = rollout(env, None, n_episodes=episodes, seed=args.seed)  # random actions
    wm = WorldModel(seed=args.seed, batch_size=128, lr=1e-3, **sizes).fit(
        data, n_updates=updates, progress=not args.quick
    )

    starts = ImaginationStarts.from_trajectories(wm, str(DEMO))
    n_envs, n_steps = 64, (8 if args.quick else 32)
    dream = ImaginationVecEnv(
        wm,
        starts,
        LatentRewarder(starts.latents),
        n_envs,
        horizon=15,
        action_space=env.action_space,
        seed=args.seed,
    )
    model = PPO(
        "MlpPolicy", dream, n_steps=n_steps, batch_size=256, gamma=0.95, gae_lambda=0.95, seed=args.seed
    )
    steps = 2 * n_envs * n_steps if args.quick else args.steps
    model.learn(steps, progress_bar=not args.quick)

    real = Monitor(LatentObservationWrapper(gym.make("Pendulum-v1"), wm))
    returns, _ = evaluate_policy(model, real, n_eval_episodes=2 if args.quick else 10, deterministic=True)
    score = minari.get_normalized_score(minari.load_dataset(str(DEMO)), np.array([returns]))[0] * 100
    print(
        f"PPO in imagination (DITTO reward), {steps} imagined steps: real return {returns:.1f}, "
        f"normalized score {score:.1f}"
    )


if __name__ == "__main__":
    main()
