"""BCTermCallback: CMIL's BC term for SB3 PPO / A2C, on real SB3 learners and tiny expert data."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO, SAC

from sb3_ot.data import Trajectory
from sb3_ot.wrappers import BCTermCallback


def _demos(n: int = 4, steps: int = 50, seed: int = 0) -> list[Trajectory]:
    """Pendulum-shaped pairs whose expert action is a fixed linear function of the observation."""
    rng = np.random.default_rng(seed)
    trajs = []
    for _ in range(n):
        obs = rng.uniform(-1, 1, size=(steps + 1, 3)).astype(np.float32)
        acts = np.clip(obs[:-1] @ np.array([[1.5], [-1.0], [0.5]], np.float32), -2, 2)
        trajs.append(Trajectory(obs, acts, np.zeros(steps, np.float32), terminated=False))
    return trajs


def _action_error(model, demos: list[Trajectory]) -> float:
    obs = np.concatenate([t.obs[:-1] for t in demos])
    acts = np.concatenate([t.acts for t in demos])
    pred, _ = model.predict(obs, deterministic=True)
    return float(np.mean((pred - acts) ** 2))


def test_bc_term_pulls_ppo_towards_the_expert_actions():
    torch.manual_seed(0)
    demos = _demos()
    errors = {}
    for coef in (0.0, 10.0):
        model = PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=64, n_epochs=2, seed=0, device="cpu")
        callback = BCTermCallback(demos, coef=coef, pretrain_steps=200, seed=0) if coef else None
        model.learn(256, callback=callback)
        errors[coef] = _action_error(model, demos)
        if callback is not None:
            assert callback.steps == 200 + 4 * 2  # pretraining + PPO's 2 minibatch steps after each update
            assert np.isfinite(model.logger.name_to_value.get("bc/nll", 0.0))
    assert errors[10.0] < 0.25 * errors[0.0], errors


def test_bc_term_takes_discrete_actions_with_a2c():
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(41, 4)).astype(np.float32)
    acts = (obs[:-1, 2] > 0).astype(np.int64)  # push the cart towards the pole's lean
    demo = Trajectory(obs, acts, np.zeros(40, np.float32), terminated=False)
    model = A2C("MlpPolicy", "CartPole-v1", n_steps=8, seed=0, device="cpu")
    callback = BCTermCallback([demo], coef=1.0, pretrain_steps=300, gradient_steps=5, seed=0)
    model.learn(32, callback=callback)
    pred, _ = model.predict(obs[:-1], deterministic=True)
    assert np.mean(pred == acts) > 0.8
    assert callback.steps == 300 + 4 * 5


def test_bc_term_refuses_what_it_cannot_use():
    demos = _demos()
    with pytest.raises(ValueError, match="BCTermCallback: trajectories\\[0\\].acts is None"):
        BCTermCallback([Trajectory(np.zeros((3, 3), np.float32), terminated=False)])
    with pytest.raises(
        ValueError, match="BCTermCallback: coef must be a finite number in \\(0, inf\\); got -1"
    ):
        BCTermCallback(demos, coef=-1)
    with pytest.raises(ValueError, match="BCTermCallback: demos' observations \\(3,\\) do not match"):
        PPO("MlpPolicy", "CartPole-v1", n_steps=8, batch_size=8, device="cpu").learn(
            8, callback=BCTermCallback(demos)
        )
    with pytest.raises(
        ValueError, match="BCTermCallback: needs an on-policy learner \\(PPO, A2C\\); got SAC"
    ):
        SAC("MlpPolicy", "Pendulum-v1", device="cpu").learn(8, callback=BCTermCallback(demos))
    bad = [
        Trajectory(np.zeros((3, 4), np.float32), np.array([0, 5]), np.zeros(2, np.float32), terminated=False)
    ]
    with pytest.raises(ValueError, match="must be integers in \\[0, 2\\)"):
        PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=8, batch_size=8, device="cpu").learn(
            8, callback=BCTermCallback(bad)
        )
