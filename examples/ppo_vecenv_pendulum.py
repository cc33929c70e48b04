"""PPO imitates Pendulum from one demonstration through ``OTRewardVecEnvWrapper``: 4 envs, one batched
OT call whenever episodes end, rewards written into the rollout buffer by ``OTRewardCallback``.

The callback adds each finished episode's OT rewards to its steps in the rollout and recomputes
returns and advantages before the update; an episode cut by the rollout's end gets the causal prefix
reward for its steps so far (see ``OTRewardCallback``). Hyperparameters are rl-zoo3's for Pendulum.

Usage:
  python examples/ppo_vecenv_pendulum.py            # 100k steps, about 2 min on a CPU; about 99 normalized
  python examples/ppo_vecenv_pendulum.py --quick    # 2 small rollouts: checks that everything runs (CI)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from sb3_ot.wrappers import OTRewardCallback, OTRewardVecEnvWrapper

DEMO = Path(__file__).resolve().parent / "data" / "pendulum-expert-v0"  # examples/make_demo.py


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two small rollouts, to check the flow runs")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    env = OTRewardVecEnvWrapper(make_vec_env("Pendulum-v1", n_envs=4, seed=args.seed), expert=str(DEMO))
    hyper = dict(gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2)
    n_steps = 64 if args.quick else 1024
    model = PPO("MlpPolicy", env, n_steps=n_steps, use_sde=True, sde_sample_freq=4, seed=args.seed, **hyper)
    steps = 2 * 4 * n_steps if args.quick else args.steps
    model.learn(steps, callback=OTRewardCallback(), progress_bar=not args.quick)

    returns, _ = evaluate_policy(
        model, Monitor(gym.make("Pendulum-v1")), n_eval_episodes=10, deterministic=True
    )
    score = minari.get_normalized_score(minari.load_dataset(str(DEMO)), np.array([returns]))[0] * 100
    print(
        f"PPO + OT reward (VecEnv wrapper), {steps} steps: true return {returns:.1f}, normalized score {score:.1f}"
    )


if __name__ == "__main__":
    main()
