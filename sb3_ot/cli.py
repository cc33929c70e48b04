"""sb3-ot: optimal-transport imitation for Gymnasium, Stable-Baselines3 and d3rlpy."""

from __future__ import annotations

import argparse
import sys
import time


def _couple(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import numpy as np
    import torch

    from sb3_ot import ot
    from sb3_ot.data import rollout, sinusoidal_policy
    from sb3_ot.ot.plot import plot_coupling

    env = gym.make(args.env)
    expert = rollout(
        env, sinusoidal_policy(env.action_space, seed=args.seed), max_steps=args.steps, seed=args.seed
    )
    agents = {
        "same gait, noisy": sinusoidal_policy(env.action_space, seed=args.seed, noise=0.3),
        "other gait": sinusoidal_policy(env.action_space, seed=args.seed + 1),
        "random actions": None,
    }
    e_obs = expert[0].observations().astype(np.float32)
    scale = e_obs.std(0) + 1e-6
    y = torch.from_numpy(e_obs / scale)
    x = torch.stack(
        [
            torch.from_numpy(
                rollout(env, pol, max_steps=args.steps, seed=args.seed + 7)[0]
                .observations()
                .astype(np.float32)
                / scale
            )
            for pol in agents.values()
        ]
    )
    eps = args.eps * float(ot.cost_matrix(x, y).max())
    t0 = time.perf_counter()
    res = ot.sinkhorn(x, y, eps=eps, return_plan=True)
    secs = time.perf_counter() - t0
    print(
        f"{args.env}: {len(agents)} agent trajectories vs one expert, {x.shape[1]} x {y.shape[0]} points, "
        f"D={x.shape[2]}, eps={args.eps:g} x max cost"
    )
    print(f"{'agent':<20} {'OT cost':>10} {'mean row cost':>14}")
    for k, name in enumerate(agents):
        print(f"{name:<20} {float(res.cost[k]):>10.3f} {float(res.row_cost[k].mean()):>14.5f}")
    print(
        f"solved in {secs * 1e3:.0f} ms ({res.n_iters} iterations, marginal error {res.marginal_error:.1e}, "
        f"{res.backend})"
    )
    path = plot_coupling(res.plan[0], res.row_cost[0], args.out, title=f"{args.env}: noisy expert vs expert")
    print(f"coupling plot: {path}")
    env.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sb3-ot", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser(
        "couple", help="OT coupling between agent and expert trajectories of an env (PNG + costs)"
    )
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument(
        "--eps", type=float, default=1e-2, help="entropic regularisation as a fraction of the max cost"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="sb3_ot_coupling.png")
    p.set_defaults(func=_couple)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
