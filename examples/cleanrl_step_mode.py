"""A CleanRL-style DDPG loop on Pendulum that learns from ``OTRewardWrapper(mode="step")``: the reward
``step()`` returns is the causal OT reward, so no callback and no buffer surgery are needed; any custom
loop (CleanRL, d3rlpy online, your own) works unchanged.

Step ``t``'s reward is that of the newest transition when the episode so far is transported onto the
expert's first ``t`` states (exact OT of a ``t x t`` problem, about 2-5 ms per step on a CPU).

Usage:
  python examples/cleanrl_step_mode.py            # 20k steps
  python examples/cleanrl_step_mode.py --quick    # 300 steps: checks that the loop runs (CI)
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import trange

from sb3_ot.wrappers import OTRewardWrapper

DEMO = Path(__file__).resolve().parent / "data" / "pendulum-expert-v0"  # examples/make_demo.py


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, n_out)
    )


def ddpg_update(nets, opts, sample, *, high: float, gamma: float, tau: float, update_actor: bool) -> None:
    """One DDPG step on a sampled batch: the critic every call, the actor and targets when asked."""
    actor, critic, actor_t, critic_t = nets
    opt_a, opt_c = opts
    o, a, r, o2, d = sample
    with torch.no_grad():
        a2 = high * torch.tanh(actor_t(o2))
        target = r + gamma * (1 - d) * critic_t(torch.cat([o2, a2], 1))
    loss_c = F.mse_loss(critic(torch.cat([o, a], 1)), target)
    opt_c.zero_grad()
    loss_c.backward()
    opt_c.step()
    if update_actor:
        loss_a = -critic(torch.cat([o, high * torch.tanh(actor(o))], 1)).mean()
        opt_a.zero_grad()
        loss_a.backward()
        opt_a.step()
        for net, tgt in ((actor, actor_t), (critic, critic_t)):
            for w, w_t in zip(net.parameters(), tgt.parameters(), strict=True):
                w_t.data.mul_(1 - tau).add_(tau * w.data)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    steps, learning_starts = (300, 100) if args.quick else (args.steps, 1000)
    gamma, tau, batch, noise = 0.99, 0.005, 256, 0.1
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    env = OTRewardWrapper(gym.make("Pendulum-v1"), expert=str(DEMO), mode="step")
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    high = float(env.action_space.high[0])
    actor, critic = mlp(obs_dim, act_dim), mlp(obs_dim + act_dim, 1)
    actor_t, critic_t = copy.deepcopy(actor), copy.deepcopy(critic)
    opt_a, opt_c = torch.optim.Adam(actor.parameters(), 3e-4), torch.optim.Adam(critic.parameters(), 3e-4)
    nets, opts = (actor, critic, actor_t, critic_t), (opt_a, opt_c)
    buf = {
        k: np.zeros((steps, n), np.float32)
        for k, n in (("o", obs_dim), ("a", act_dim), ("r", 1), ("o2", obs_dim), ("d", 1))
    }

    obs, _ = env.reset(seed=args.seed)
    ot_return, env_return, returns = 0.0, 0.0, []
    for t in trange(steps, disable=args.quick):
        if t < learning_starts:
            action = env.action_space.sample()
        else:
            with torch.no_grad():
                action = high * torch.tanh(actor(torch.as_tensor(obs)[None]))[0].numpy()
            action = np.clip(action + rng.normal(0, noise * high, act_dim), -high, high).astype(np.float32)
        next_obs, reward, terminated, truncated, info = env.step(action)  # reward: the causal OT reward
        ot_return += reward
        env_return += info["env_reward"]  # the true reward, for reporting only
        for k, v in (("o", obs), ("a", action), ("r", reward), ("o2", next_obs), ("d", terminated)):
            buf[k][t] = v
        obs = next_obs
        if terminated or truncated:
            returns.append((ot_return, env_return))
            ot_return, env_return = 0.0, 0.0
            obs, _ = env.reset()
        if t >= learning_starts:
            idx = rng.integers(0, t + 1, batch)
            sample = [torch.as_tensor(buf[k][idx]) for k in ("o", "a", "r", "o2", "d")]
            ddpg_update(nets, opts, sample, high=high, gamma=gamma, tau=tau, update_actor=t % 2 == 0)
    last = returns[-5:] or [(ot_return, env_return)]
    print(
        f"DDPG + step-mode OT reward, {steps} steps, {len(returns)} episodes; last {len(last)}: "
        f"OT return {np.mean([r[0] for r in last]):.1f}, true return {np.mean([r[1] for r in last]):.1f}"
    )


if __name__ == "__main__":
    main()
