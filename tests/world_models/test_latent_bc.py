"""D-BC's pieces (DITTO's baseline): the model's latent trajectories, BC on them, deployed in the real env
through LatentObservationWrapper."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sb3_ot.data import rollout, sinusoidal_policy, to_d3rlpy
from sb3_ot.integrations.d3rlpy import make_algo, train_offline
from sb3_ot.world_models import LatentObservationWrapper, WorldModel

TINY = {"latent_dim": 8, "hidden": (32, 32), "n_heads": 2, "batch_size": 64, "lr": 1e-3}


@pytest.fixture(scope="module")
def model_and_demos():
    env = gym.make("Pendulum-v1", max_episode_steps=30)
    demos = rollout(env, sinusoidal_policy(env.action_space, seed=0), n_episodes=3, seed=0)
    data = rollout("Pendulum-v1", n_episodes=6, max_steps=30, seed=1) + demos
    return WorldModel(seed=0, **TINY).fit(data, n_updates=30, progress=False), demos


def test_latent_trajectories_keep_everything_but_the_observations(model_and_demos):
    model, demos = model_and_demos
    latent = model.latent_trajectories(demos)
    for lt, t in zip(latent, demos, strict=True):
        assert lt.obs.shape == (len(t) + 1, 8) and lt.obs.dtype == np.float32
        np.testing.assert_array_equal(lt.obs, model.encode(t.observations().astype(np.float32)))
        np.testing.assert_array_equal(lt.acts, t.acts)
        np.testing.assert_array_equal(lt.rews, t.rews)
        assert lt.terminated == t.terminated
    with pytest.raises(ValueError, match="WorldModel.latent_trajectories: expert must hold at least one"):
        model.latent_trajectories([])


def test_bc_on_latents_trains_and_is_evaluated_in_the_real_env(model_and_demos):
    model, demos = model_and_demos
    bc = make_algo("bc", hidden=(16,))
    run = train_offline(
        "D-BC",
        bc,
        to_d3rlpy(model.latent_trajectories(demos)),
        lambda: LatentObservationWrapper(gym.make("Pendulum-v1", max_episode_steps=20), model),
        n_steps=10,
        eval_every=5,
        n_eval_episodes=1,
        ref_scores=(-1200.0, -150.0),
        progress=False,
    )
    assert [u for u, _, _ in run.curve] == [0, 5, 10]
    assert all(np.isfinite(r) and -20 * 17 <= r <= 0 for _, r, _ in run.curve)  # 20 real Pendulum steps
