"""WorldModel: beats repeating the last observation, Box/Discrete/Dict data, heads, exact save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sb3_ot.data import Trajectory, rollout
from sb3_ot.encoders import IdentityEncoder
from sb3_ot.world_models import WorldModel, WorldModelConfig

TINY = {"latent_dim": 8, "hidden": (32, 32), "n_heads": 3, "batch_size": 64, "lr": 1e-3}


@pytest.fixture(scope="module")
def pendulum():
    return rollout("Pendulum-v1", n_episodes=20, max_steps=100, seed=0)


@pytest.fixture(scope="module")
def pendulum_model(pendulum):
    return WorldModel(seed=0, **TINY).fit(pendulum, n_updates=400, progress=False)


@pytest.fixture(scope="module")
def cartpole():
    return rollout("CartPole-v1", n_episodes=40, seed=0)  # random actions: ~20 steps, all terminated


@pytest.fixture(scope="module")
def cartpole_model(cartpole):
    return WorldModel(seed=0, **TINY).fit(cartpole, n_updates=400, progress=False)


def _weights(model: WorldModel) -> list[torch.Tensor]:
    assert model.nets is not None and model.target is not None
    return [*model.nets.state_dict().values(), *model.target.state_dict().values()]


# --------------------------------------------------------------------------- learning
def test_pendulum_held_out_prediction_error_is_well_below_repeating_the_last_observation(pendulum_model):
    err = pendulum_model.prediction_error(ks=(1, 5))
    assert len(pendulum_model.heldout_indices) == 2  # 10% of 20 episodes
    assert err[1]["pairs"] == 2 * 100 and err[5]["pairs"] == 2 * 96
    assert err[1]["model"] < 0.5 * err[1]["repeat_last"]
    assert err[5]["model"] < 0.2 * err[5]["repeat_last"]
    assert pendulum_model.history[-1]["update"] == 400


def test_prediction_error_on_given_trajectories_and_k_longer_than_every_episode(pendulum_model, pendulum):
    err = pendulum_model.prediction_error(pendulum[:2], ks=(1, 200))
    assert err[1]["pairs"] == 200 and err[200]["pairs"] == 0 and np.isnan(err[200]["model"])


def test_discrete_actions_fit_next_takes_integers_and_termination_is_learned(cartpole_model, cartpole):
    m = cartpole_model
    assert (m.act_kind, m.act_dim, m.obs_dim) == ("discrete", 2, 4)
    z = m.encode(torch.tensor(np.stack([t.obs[0] for t in cartpole]), dtype=torch.float32))
    assert m.next(z, torch.ones(len(z), dtype=torch.long)).shape == z.shape
    with pytest.raises(
        ValueError, match=r"WorldModel.next: a must hold Discrete actions in \[0, 1\]; got values in \[0, 2\]"
    ):
        m.next(z[:2], torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="integer Discrete actions of shape"):
        m.next(z[:2], torch.tensor([0.0, 1.0]))
    p_start = m.terminated(z)
    p_end = m.terminated(m.encode(np.stack([t.obs[-1] for t in cartpole]).astype(np.float32)))
    assert isinstance(p_end, np.ndarray) and p_start.shape == (len(cartpole),)
    assert p_end.mean() > 0.5 > float(p_start.mean()) + 0.3
    assert m.prediction_error(ks=(1,))[1]["model"] < m.prediction_error(ks=(1,))[1]["repeat_last"]


def test_dict_observations_with_obs_key(pendulum):
    trajs = [
        Trajectory({"observation": t.obs, "goal": np.zeros((len(t.obs), 2))}, t.acts, terminated=False)
        for t in pendulum[:4]
    ]
    m = WorldModel(obs_key="observation", seed=0, **TINY).fit(trajs, n_updates=5, progress=False)
    assert m.obs_dim == 3 and m.encode(torch.zeros(7, 3)).shape == (7, 8)
    assert WorldModel(obs_key="goal", seed=0, **TINY).fit(trajs, n_updates=2, progress=False).obs_dim == 2
    with pytest.raises(ValueError, match="'nope' is not in the dict observations"):
        WorldModel(obs_key="nope", **TINY).fit(trajs, n_updates=1, progress=False)


# --------------------------------------------------------------------------- surface
def test_next_head_variants_shapes_and_random_heads_reproducible(pendulum_model):
    m = pendulum_model
    z, a = m.encode(torch.randn(4, 5, 3)), torch.randn(4, 5, 1)
    outs = {h: m.next(z, a, head=h) for h in ("mean", 0, 2, np.int64(1))}
    assert all(o.shape == (4, 5, 8) for o in outs.values())
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    r1, r2 = m.next(z, a, head="random", generator=g1), m.next(z, a, head="random", generator=g2)
    assert torch.equal(r1, r2)
    heads = torch.stack([m.next(z, a, head=k) for k in range(3)])
    assert ((heads == r1).all(-1).sum(0) >= 1).all()  # every row is one head's prediction
    assert (
        m.decode(z).shape == (4, 5, 3)
        and m.terminated(z).shape == (4, 5)
        and m.uncertainty(z, a).shape == (4, 5)
    )
    assert m.next(z[0, 0], a[0, 0]).shape == (8,)  # a single latent
    for bad in ("best", 3, -1, True):
        with pytest.raises(ValueError, match=r"head must be 'mean', 'random' or an int in \[0, 2\]"):
            m.next(z, a, head=bad)


def test_uncertainty_is_zero_for_identical_heads_and_positive_otherwise(pendulum):
    m = WorldModel(seed=1, **TINY).fit(pendulum[:3], n_updates=3, progress=False)
    z, a = m.encode(torch.randn(16, 3)), torch.randn(16, 1)
    assert (m.uncertainty(z, a) > 0).all()
    with torch.no_grad():
        for p in m.nets.dynamics.parameters():
            p.copy_(p[:1].expand_as(p))
    assert torch.equal(m.uncertainty(z, a), torch.zeros(16))


def test_inverse_dynamics_head_learns_the_action_and_leaves_the_other_nets_initialisation(pendulum, tmp_path):
    model = WorldModel(seed=0, inverse=1.0, **TINY).fit(pendulum, n_updates=300, progress=False)
    first, last = model.history[0]["inverse"], model.history[-1]["inverse"]
    assert last < 0.5 * first  # standardised torques: predicting their mean scores ~1 (measured: 0.42)
    plain, fresh = WorldModel(seed=0, **TINY), WorldModel(seed=0, inverse=1.0, **TINY)
    for m in (plain, fresh):
        m._build((3,), "box", 1)  # the networks as fit() first builds them, before any update
    assert plain.nets is not None and fresh.nets is not None and plain.nets.inverse is None
    same = {k: v for k, v in fresh.nets.state_dict().items() if not k.startswith("inverse.")}
    assert same.keys() == plain.nets.state_dict().keys()
    assert all(torch.equal(v, plain.nets.state_dict()[k]) for k, v in same.items())
    loaded = WorldModel.load(model.save(tmp_path / "inv.pt"))
    assert all(torch.equal(x, y) for x, y in zip(_weights(model), _weights(loaded), strict=True))
    cart = rollout("CartPole-v1", n_episodes=10, seed=1)  # Discrete: cross-entropy on the one-hots
    disc = WorldModel(seed=0, inverse=1.0, **TINY).fit(cart, n_updates=5, progress=False)
    assert np.isfinite(disc.history[-1]["inverse"])


def test_numpy_in_numpy_out(pendulum_model):
    z = pendulum_model.encode(np.zeros((2, 3)))
    assert isinstance(z, np.ndarray) and z.dtype == np.float32
    assert isinstance(pendulum_model.next(z, np.zeros((2, 1))), np.ndarray)


# --------------------------------------------------------------------------- persistence and seeds
def test_save_load_round_trips_exactly_and_training_continues_identically(pendulum, tmp_path):
    live = WorldModel(seed=0, **TINY).fit(pendulum[:5], n_updates=20, progress=False)
    loaded = WorldModel.load(live.save(tmp_path / "wm.pt"))
    assert loaded.config == live.config and loaded.heldout_indices == live.heldout_indices
    assert all(torch.equal(x, y) for x, y in zip(_weights(live), _weights(loaded), strict=True))
    obs, a = torch.randn(9, 3), torch.randn(9, 1)
    for m in (live, loaded):
        m.out = (
            m.encode(obs),
            m.next(m.encode(obs), a, head=1),
            m.decode(m.encode(obs)),
            m.uncertainty(m.encode(obs), a),
        )
    assert all(torch.equal(x, y) for x, y in zip(live.out, loaded.out, strict=True))
    live.fit(pendulum[:5], n_updates=10, progress=False)
    loaded.fit(pendulum[:5], n_updates=10, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(_weights(live), _weights(loaded), strict=True))
    assert live.history == loaded.history


def test_same_seed_same_weights_other_seed_other_weights(pendulum):
    a, b, c = (WorldModel(seed=s, **TINY).fit(pendulum[:4], n_updates=5, progress=False) for s in (0, 0, 1))
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(c), strict=True))


def test_fit_does_not_touch_the_global_torch_generator(pendulum):
    torch.manual_seed(5)
    WorldModel(seed=0, **TINY).fit(pendulum[:2], n_updates=1, progress=False)
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))


def test_load_refuses_other_checkpoints(tmp_path, pendulum):
    path = IdentityEncoder(3).save(tmp_path / "enc.pt")
    with pytest.raises(
        ValueError,
        match=r"WorldModel.load: .*enc.pt' is not a world-model checkpoint \(it holds a 'identity' encoder\)",
    ):
        WorldModel.load(path)
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable world-model file"):
        WorldModel.load(tmp_path / "bad.pt")


# --------------------------------------------------------------------------- bad inputs
def test_bad_data_and_arguments_give_clear_errors(pendulum, make_trajectory):
    fit = WorldModel(**TINY).fit
    with pytest.raises(ValueError, match="WorldModel.fit: .*at least one"):
        fit([], n_updates=1, progress=False)
    with pytest.raises(ValueError, match=r"WorldModel.fit: data\[1\] has no actions"):
        fit([pendulum[0], Trajectory(pendulum[1].obs, None, terminated=False)], n_updates=1, progress=False)
    with pytest.raises(
        ValueError, match=r"WorldModel.fit: trajectories\[1\] has obs_dim 4 but trajectories\[0\] has 3"
    ):
        fit([pendulum[0], make_trajectory(5, obs_dim=4, act_dim=1)], n_updates=1, progress=False)
    for n in (0, -3, 1.5):
        with pytest.raises(ValueError, match="WorldModel.fit: n_updates must be"):
            fit(pendulum[:2], n_updates=n, progress=False)
    with pytest.raises(ValueError, match="WorldModel.encode: the world model is not trained yet; call fit"):
        WorldModel().encode(torch.zeros(3))
    with pytest.raises(ValueError, match="WorldModel: unknown settings"):
        WorldModel(latent=3)
    with pytest.raises(ValueError, match="WorldModelConfig: rho must be a finite number in"):
        WorldModelConfig(rho=0.0)


def test_bad_model_inputs_give_clear_errors(pendulum_model):
    m = pendulum_model
    with pytest.raises(ValueError, match="WorldModel.encode: obs must be finite; got NaN"):
        m.encode(torch.tensor([[0.0, float("nan"), 1.0]]))
    with pytest.raises(ValueError, match=r"WorldModel.encode: obs must have shape \[..., 3\]; got \(2, 4\)"):
        m.encode(torch.zeros(2, 4))
    z = m.encode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"WorldModel.next: a must have shape \[2, 1\] .*got \[2, 2\]"):
        m.next(z, torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"WorldModel.next: a must have shape \[2, 1\] .*got \[3, 1\]"):
        m.next(z, torch.zeros(3, 1))
    with pytest.raises(ValueError, match=r"WorldModel.fit: data has obs_dim 3 and discrete actions"):
        m.fit([Trajectory(np.zeros((3, 3)), np.array([0, 1]), terminated=False)], n_updates=1, progress=False)
