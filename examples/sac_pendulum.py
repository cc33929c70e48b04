"""SAC imitates a Pendulum swing-up from one observation-only demonstration, never seeing the env reward.

``OTRewardWrapper(mode="episode")`` rewards each finished episode by optimal transport to the expert's
states; ``OTRewardCallback`` writes those rewards into SAC's replay buffer. The env's own reward is only
used to report how well the imitation does (``Monitor`` sits inside the wrapper, so SB3's
``rollout/ep_rew_mean`` is the true return).

Usage:
  python examples/sac_pendulum.py            # 30k steps, 10-15 min on a CPU; about 97-101 normalized
  python examples/sac_pendulum.py --quick    # 400 steps: checks that everything runs (CI)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from sb3_ot.wrappers import OTRewardCallback, OTRewardWrapper

DEMO = Path(__file__).resolve().parent / "data" / "pendulum-expert-v0"  # examples/make_demo.py


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few hundred steps, to check the flow runs")
    p.add_argument("--steps", type=int, default=30_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    steps = 400 if args.quick else args.steps

    env = make_vec_env(
        "Pendulum-v1",
        n_envs=1,
        seed=args.seed,
        wrapper_class=OTRewardWrapper,
        wrapper_kwargs=dict(expert=str(DEMO), mode="episode"),
    )
    model = SAC(
        "MlpPolicy", env, learning_rate=1e-3, learning_starts=200 if args.quick else 100, seed=args.seed
    )
    model.learn(steps, callback=OTRewardCallback(), progress_bar=not args.quick)

    # score on the true reward, normalized by the demo dataset's reference returns (random, expert)
    returns, _ = evaluate_policy(
        model, Monitor(gym.make("Pendulum-v1")), n_eval_episodes=10, deterministic=True
    )
    score = minari.get_normalized_score(minari.load_dataset(str(DEMO)), np.array([returns]))[0] * 100
    print(f"SAC + OT reward, {steps} steps: true return {returns:.1f}, normalized score {score:.1f}")


if __name__ == "__main__":
    main()
