"""Zero-shot imitation (ZILOT): push a block along a U the agent has never seen, from goals alone.

1. ``GoalModel`` learns offline from FetchPush episodes with no expert of the task: a scripted pusher
   that sends the block to random goals, and random actions (the official code's expert + random
   buffers). It learns latent dynamics, ``V(s, g)`` (minus the steps to reach a goal) and ``W(g1, g2)``.
2. The expert of the task is only a sequence of block positions (``make_task``: the paper's U shape).
3. ``ZILOTPolicy`` plans with iCEM so that the episode's states, real and planned, are closest in OT
   (``sinkhorn_matrix``) to those goals; SB3's ``evaluate_policy`` runs it like any policy.

Usage:
  python examples/zilot_fetch_push.py            # builds the datasets, trains ~1 h on a 2-core CPU
  python examples/zilot_fetch_push.py --quick    # tiny data, model and planner: checks the flow (CI)
"""

from __future__ import annotations

import argparse

import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_ot.data import load_trajectories, rollout
from sb3_ot.data.envs import make_env
from sb3_ot.datasets import FetchController, build_dataset, epsilon_policy
from sb3_ot.planners import GoalModel, GoalTracker, ZILOTPolicy, make_task, reset_to_first_goal


def data(quick: bool) -> list:
    """Goal-conditioned episodes with actions: no demonstration of the task among them."""
    if quick:
        env = make_env("FetchPush-v4")
        pusher = FetchController(env)
        trajs = rollout(env, pusher, n_episodes=4, seed=0)
        return trajs + rollout(env, epsilon_policy(pusher, env.action_space, 1.0), n_episodes=4, seed=1)
    kinds = [load_trajectories(build_dataset("FetchPush-v4", k, steps=100_000)) for k in ("expert", "random")]
    return [t for pair in zip(*kinds, strict=False) for t in pair]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny data, model and planner: checks the flow runs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    sizes = dict(latent_dim=16, enc_dim=32, mlp_dim=32) if args.quick else {}
    model = GoalModel(env_id="FetchPush-v4", seed=args.seed, **sizes)
    model.fit(data(args.quick), n_updates=20 if args.quick else 40_000, progress=not args.quick)

    task = make_task("FetchPush-v4", "U-sparse")  # 4 corners of a U on the table
    planner = (
        dict(population=16, iterations=1, horizon=4) if args.quick else dict(population=256, iterations=3)
    )
    env = make_env("FetchPush-v4", max_episode_steps=task.max_steps)
    policy = ZILOTPolicy(model, env.observation_space, env.action_space, seed=args.seed, **planner)
    policy.set_expert(task.goals)

    # one episode by hand, from the first goal as the paper starts it, with the paper's metrics
    obs = reset_to_first_goal(env, task, seed=args.seed)
    tracker = GoalTracker(task, obs["achieved_goal"])
    steps = 5 if args.quick else task.max_steps
    for _ in range(steps):
        action, _ = policy.predict(obs)
        obs, *_ = env.step(action)
        tracker.update(obs["achieved_goal"])
    print(f"ZILOT on {task.name}: W_min {tracker.w_min:.3f} m, GoalFraction {tracker.goal_fraction:.2f}")

    # the same policy under SB3's evaluate_policy, two envs (plain resets: the block starts anywhere)
    venv = DummyVecEnv([lambda: Monitor(make_env("FetchPush-v4", max_episode_steps=steps))] * 2)
    rewards, lengths = evaluate_policy(policy, venv, n_eval_episodes=2, return_episode_rewards=True)
    print(f"evaluate_policy: {len(rewards)} episodes of {int(np.mean(lengths))} steps")


if __name__ == "__main__":
    main()
