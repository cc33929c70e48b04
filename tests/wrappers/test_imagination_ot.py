"""OT rewards inside a world model: OTRewardVecEnvWrapper on an ImaginationVecEnv that gives no reward of its
own, against the expert's latent episodes; the callback writes them into PPO's rollouts."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import PPO

from sb3_ot.data import Trajectory, rollout
from sb3_ot.encoders import IdentityEncoder
from sb3_ot.rewards import AILOTRewarder, OTRRewarder
from sb3_ot.world_models import ImaginationStarts, ImaginationVecEnv, WorldModel
from sb3_ot.wrappers import OTRewardCallback, OTRewardVecEnvWrapper

TINY = {"latent_dim": 8, "hidden": (32, 32), "n_heads": 2, "batch_size": 64, "lr": 1e-3}


@pytest.fixture(scope="module")
def setup():
    data = rollout("Pendulum-v1", n_episodes=4, max_steps=40, seed=0)
    model = WorldModel(seed=0, **TINY).fit(data, n_updates=30, progress=False)
    expert = [Trajectory(t.obs, None, terminated=False) for t in model.latent_trajectories(data[:2])]
    return model, ImaginationStarts.from_trajectories(model, data[:2]), expert


@pytest.mark.parametrize("rewarder", [AILOTRewarder(IdentityEncoder()), OTRRewarder()], ids=["ailot", "otr"])
def test_ot_rewards_arrive_when_each_imagined_episode_ends(setup, rewarder):
    model, starts, expert = setup
    venv = OTRewardVecEnvWrapper(
        ImaginationVecEnv(model, starts, None, 4, horizon=5, seed=0), expert, rewarder
    )
    venv.claim_ot_rewards()
    venv.reset()
    lengths, ended = np.zeros(4, int), 0
    for _ in range(12):
        _, rew, done, infos = venv.step(np.zeros((4, 1), np.float32))
        lengths += 1
        assert (rew == 0).all()  # episode mode: 0 during the episode
        for i in np.flatnonzero(done):
            r = infos[i]["ot_rewards"]
            assert r.shape == (lengths[i],) and np.isfinite(r).all() and (r > 0).all()
            lengths[i], ended = 0, ended + 1
    assert ended >= 8


def test_ppo_trains_on_ot_rewards_in_imagination(setup):
    model, starts, expert = setup
    venv = OTRewardVecEnvWrapper(
        ImaginationVecEnv(model, starts, None, 8, horizon=5, seed=0), expert, OTRRewarder()
    )
    ppo = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0)
    callback = OTRewardCallback()
    ppo.learn(256, callback=callback)
    assert ppo.rollout_buffer.rewards.max() > 0  # the OT rewards reached the rollout
