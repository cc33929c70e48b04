"""AdversarialRewarder (CMIL / D-GAIL): the discriminator separates expert from other pairs, rewards follow
it, it saves and loads back identically, and it is trained inside SB3 PPO in a world model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from sb3_ot.data import Trajectory, rollout
from sb3_ot.rewards import AdversarialConfig, AdversarialRewarder
from sb3_ot.world_models import ImaginationStarts, ImaginationVecEnv, WorldModel
from sb3_ot.wrappers import AdversarialRewardCallback


def _latent_demo(rng: np.random.Generator, steps: int = 100, dim: int = 8) -> Trajectory:
    """Expert latents on a ring in the first two dims (others near 0), actions = their angle's sine."""
    angle = np.linspace(0, 2 * np.pi, steps + 1)
    z = np.zeros((steps + 1, dim), np.float32)
    z[:, 0], z[:, 1] = 2 * np.cos(angle), 2 * np.sin(angle)
    z += 0.05 * rng.normal(size=z.shape).astype(np.float32)
    acts = np.sin(angle[:-1, None]).astype(np.float32)
    return Trajectory(z, acts, np.zeros(steps, np.float32), terminated=False)


def test_the_discriminator_separates_expert_from_random_latents():
    rng = np.random.default_rng(0)
    demo = _latent_demo(rng)
    rewarder = AdversarialRewarder([demo], seed=0, noise=0.3)  # CMIL's 2.5 blurs an 8-dim ring away
    random_z = torch.as_tensor(rng.normal(size=(256, 8)), dtype=torch.float32) * 2
    random_a = torch.as_tensor(rng.uniform(-1, 1, size=(256, 1)), dtype=torch.float32)
    before = rewarder(None, random_a, None, None, z=random_z)  # scores and remembers the pairs
    metrics = rewarder.update(300)
    assert metrics["expert_accuracy"] > 0.8 and metrics["imagined_accuracy"] > 0.8, metrics
    expert_d = rewarder.probability(demo.obs[:-1], demo.acts)
    random_d = rewarder.probability(random_z, random_a)
    assert float(expert_d.mean()) > 0.7 > 0.3 > float(random_d.mean())
    assert abs(float(before.mean()) - 0.5) < 0.2  # an untrained D pays about 0.5 to anyone
    gail = AdversarialRewarder([demo], seed=0, noise=0.3, form="gail")
    gail.net.load_state_dict(rewarder.net.state_dict())
    r = gail(None, random_a, None, None, z=random_z)
    assert torch.allclose(r, -torch.log1p(-random_d), atol=1e-5)  # GAIL's -log(1 - D)


def test_save_and_load_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(1)
    rewarder = AdversarialRewarder([_latent_demo(rng)], seed=3, hidden=(16,), noise=0.5)
    rewarder(None, np.zeros((4, 1), np.float32), None, None, z=np.ones((4, 8), np.float32))
    rewarder.update(5)
    back = AdversarialRewarder.load(rewarder.save(tmp_path / "d.pt"))
    assert back.config == rewarder.config and back.config.hidden == (16,)
    z, a = rng.normal(size=(10, 8)).astype(np.float32), rng.normal(size=(10, 1)).astype(np.float32)
    assert torch.equal(back.probability(z, a), rewarder.probability(z, a))
    assert torch.equal(back.expert, rewarder.expert)


def test_discrete_actions_enter_one_hot_and_bad_inputs_fail_clearly(tmp_path):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(11, 4)).astype(np.float32)
    demo = Trajectory(z, np.arange(10) % 3, np.zeros(10, np.float32), terminated=False)
    rewarder = AdversarialRewarder([demo], n_actions=3)
    assert rewarder.in_dim == 4 + 3
    assert rewarder(None, np.array([0, 2]), None, None, z=z[:2]).shape == (2,)
    with pytest.raises(ValueError, match=r"actions must be integers in \[0, 3\)"):
        rewarder(None, np.array([0, 3]), None, None, z=z[:2])
    with pytest.raises(ValueError, match="z \\(the latents before the step\\) is required"):
        rewarder(z[:2], np.array([0, 1]), None, None)
    with pytest.raises(ValueError, match="must give 7 features per row"):
        rewarder(None, np.array([0, 1]), None, None, z=z[:2, :3])
    with pytest.raises(ValueError, match="z must be finite"):
        rewarder(None, np.array([0, 1]), None, None, z=np.full((2, 4), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"trajectories\[0\].acts is None"):
        AdversarialRewarder([Trajectory(z, terminated=False)])
    with pytest.raises(ValueError, match="AdversarialConfig: form must be one of"):
        AdversarialConfig(form="wgan")
    with pytest.raises(ValueError, match="AdversarialRewarder: unknown settings \\['nosie'\\]"):
        AdversarialRewarder(nosie=1.0)
    with pytest.raises(ValueError, match="no expert pairs set"):
        AdversarialRewarder().update()
    from sb3_ot.rewards import LatentRewarder

    LatentRewarder([z]).save(tmp_path / "ditto.pt")
    with pytest.raises(
        ValueError, match="AdversarialRewarder.load: .* holds a 'LatentRewarder', not a AdversarialRewarder"
    ):
        AdversarialRewarder.load(tmp_path / "ditto.pt")
    rewarder.save(tmp_path / "d.pt")
    with pytest.raises(
        ValueError, match="LatentRewarder.load: .* holds a 'AdversarialRewarder', not a LatentRewarder"
    ):
        LatentRewarder.load(tmp_path / "d.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="AdversarialRewarder.load: .* is not a readable rewarder file"):
        AdversarialRewarder.load(tmp_path / "bad.pt")


def test_ppo_in_imagination_trains_the_discriminator_through_the_callback():
    data = rollout("Pendulum-v1", n_episodes=4, max_steps=40, seed=0)
    tiny = {"latent_dim": 8, "hidden": (32, 32), "n_heads": 2, "batch_size": 64}
    model = WorldModel(seed=0, **tiny).fit(data, n_updates=30, progress=False)
    starts = ImaginationStarts.from_trajectories(model, data[:2])
    rewarder = AdversarialRewarder(model.latent_trajectories(data[:2]), seed=0, hidden=(32, 32))
    venv = ImaginationVecEnv(model, starts, rewarder, 8, horizon=5, uncertainty_penalty=10.0, seed=0)
    callback = AdversarialRewardCallback(rewarder)
    PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0).learn(256, callback=callback)
    assert len(callback.history) == 2  # one update per rollout of 8 x 16 steps
    assert set(callback.history[-1]) == {
        "loss",
        "expert_accuracy",
        "imagined_accuracy",
        "expert_d",
        "imagined_d",
    }
    assert len(rewarder._pool) == 256  # every imagined pair the rollouts scored
    with pytest.raises(ValueError, match="rewarder must be an AdversarialRewarder"):
        AdversarialRewardCallback(object())
