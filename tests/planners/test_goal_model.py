"""ZILOT's goal-conditioned model: it trains on Fetch episodes, its values rank goals, it saves and
loads back identically, and bad data fails clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sb3_ot.data import Trajectory, rollout
from sb3_ot.data.envs import make_env
from sb3_ot.datasets.scripted import FetchController, epsilon_policy
from sb3_ot.planners.model import GoalModel, GoalModelConfig

TINY = {"latent_dim": 16, "enc_dim": 32, "mlp_dim": 32, "batch_size": 64}


@pytest.fixture(scope="module")
def push_data():
    env = make_env("FetchPush-v4")
    controller = FetchController(env)
    trajs = rollout(env, controller, n_episodes=6, seed=0)
    trajs += rollout(env, epsilon_policy(controller, env.action_space, 0.5), n_episodes=6, seed=1)
    env.close()
    return trajs


@pytest.fixture(scope="module")
def fitted(push_data):
    return GoalModel(env_id="FetchPush-v4", seed=0, **TINY).fit(push_data, n_updates=400, progress=False)


def test_fit_logs_finite_losses_and_learns_that_a_held_goal_is_closer(fitted, push_data):
    last = fitted.history[-1]
    assert last["update"] == 400 and all(np.isfinite(v) for v in last.values())
    obs, ag = push_data[0].obs["observation"], push_data[0].obs["achieved_goal"]
    z = fitted.encode(obs)
    far = ag + np.array([0.0, 0.3, 0.0], np.float32)  # 30 cm off: never reached in a step
    v_here = fitted.value(z, fitted.encode_goal(ag))  # the goal the state already has: 0 steps
    v_far = fitted.value(z, fitted.encode_goal(far))
    assert (v_here > v_far).mean() >= 0.9 and v_here.mean() > v_far.mean() + 0.2, (v_here, v_far)
    matrix = fitted.value_matrix(z[:5], fitted.encode_goal(far[:3]))
    assert matrix.shape == (5, 3)
    np.testing.assert_allclose(
        np.diag(matrix[:3]), fitted.value(z[:3], fitted.encode_goal(far[:3])), rtol=1e-4, atol=1e-5
    )


def test_surface_shapes_and_numpy_or_torch(fitted):
    z = fitted.encode(np.zeros((2, 3, 25), np.float32))
    zg = fitted.encode_goal(np.zeros((2, 3, 3), np.float32))
    assert z.shape == zg.shape == (2, 3, 16) and isinstance(z, np.ndarray)
    assert fitted.next(z, np.zeros((2, 3, 4))).shape == (2, 3, 16)
    assert fitted.act(z, zg).shape == (2, 3, 4) and np.abs(fitted.act(z, zg)).max() <= 1.0
    assert fitted.goal_value(zg, zg).shape == (2, 3)
    assert isinstance(fitted.encode(torch.zeros(25)), torch.Tensor)


def test_save_load_round_trip_and_continue(fitted, push_data, tmp_path):
    path = fitted.save(tmp_path / "gm.pt")
    loaded = GoalModel.load(path)
    assert loaded.env_id == "FetchPush-v4" and loaded.dims == fitted.dims and loaded.config == fitted.config
    obs = push_data[1].obs["observation"]
    np.testing.assert_array_equal(loaded.encode(obs), fitted.encode(obs))
    ag = push_data[1].obs["achieved_goal"]
    z, zg = fitted.encode(obs), fitted.encode_goal(ag[::-1].copy())
    np.testing.assert_array_equal(loaded.value(z, zg), fitted.value(z, zg))
    loaded.fit(push_data, n_updates=2, progress=False)  # training continues from the saved optimizers
    assert loaded.n_updates == 402
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable goal-model file"):
        GoalModel.load(tmp_path / "bad.pt")


def test_bad_data_fails_clearly(push_data):
    env = make_env("Pendulum-v1")
    flat = rollout(env, None, n_episodes=1, seed=0)
    with pytest.raises(ValueError, match="observations must be dicts with 'observation' and 'achieved_goal'"):
        GoalModel(**TINY).fit(flat, n_updates=1, progress=False)
    t = push_data[0]
    loud = Trajectory(dict(t.obs), np.asarray(t.acts) * 3.0, t.rews, terminated=False)
    with pytest.raises(ValueError, match=r"actions must lie in \[-1, 1\]"):
        GoalModel(**TINY).fit([loud], n_updates=1, progress=False)
    with pytest.raises(ValueError, match="data must hold at least one trajectory"):
        GoalModel(**TINY).fit([], n_updates=1, progress=False)
    with pytest.raises(ValueError, match="latent_dim must be a multiple of simnorm"):
        GoalModelConfig(latent_dim=20)
    with pytest.raises(ValueError, match="is not fitted"):
        GoalModel().encode(np.zeros(25))
    fitted = GoalModel(**TINY).fit(push_data[:2], n_updates=1, progress=False)
    with pytest.raises(ValueError, match=r"obs must have shape \[\.\.\., 25\]"):
        fitted.encode(np.zeros(10))


def test_td_action_data_bootstraps_with_the_datas_next_action_and_the_policys_at_episode_ends(push_data):
    from dataclasses import replace

    model = GoalModel(env_id="FetchPush-v4", seed=0, td_action="data", **TINY).fit(
        push_data, n_updates=20, progress=False
    )
    slices = model._prepare(push_data, "test")
    pos, gidx = (torch.from_numpy(x) for x in slices.sample(np.random.default_rng(1), 512, 3, model.config))
    obs, goals, acts = (torch.from_numpy(x) for x in (slices.obs, slices.goals, slices.acts))
    ends = torch.from_numpy(slices.last)[pos[:, 1:]] == pos[:, 1:]
    done = (goals[pos][:, :-1] - goals[gidx]).abs().amax(-1) < 1e-6
    nxt = (goals[pos][:, 1:] - goals[gidx]).abs().amax(-1) < 1e-6
    with torch.no_grad():
        next_z, zg = model.nets.encode(obs[pos][:, 1:]), model.nets.encode_goal(goals[gidx])
    targets = {}
    for kind in ("data", "policy"):
        model.config = replace(model.config, td_action=kind)
        gen = torch.Generator().manual_seed(0)
        targets[kind] = model._td_target(next_z, zg, done, nxt, acts[pos][:, 1:], ends, gen)
    live = ~(ends | done | nxt)  # rows that bootstrap from a next action the data has
    assert ends.any() and live.sum() > 100
    torch.testing.assert_close(targets["data"][ends], targets["policy"][ends])
    assert (targets["data"][live] != targets["policy"][live]).float().mean() > 0.9
    with pytest.raises(ValueError, match="td_action"):
        GoalModelConfig(td_action="greedy")


def test_td_action_expectile_bootstraps_from_v_and_a_higher_expectile_learns_higher_values(push_data):
    fits = {
        e: GoalModel(env_id="FetchPush-v4", seed=0, td_action="expectile", expectile=e, **TINY).fit(
            push_data, n_updates=200, progress=False
        )
        for e in (0.5, 0.9)
    }
    model, step = fits[0.9], 1.0 / fits[0.9].config.value_scale
    z, zg = torch.randn(2, 64, 16).softmax(-1), torch.randn(2, 64, 16).softmax(-1)
    no = torch.zeros(2, 64, dtype=torch.bool)
    with torch.no_grad():
        td = model._td_target(z, zg, no, no, None, no, torch.Generator())
        torch.testing.assert_close(td, (model.nets.v(z, zg) - step).clamp(-1.0, 0.0))
        assert torch.equal(model._td_target(z, zg, ~no, no, None, no, torch.Generator()), torch.zeros(2, 64))
    obs = np.concatenate([t.obs["observation"] for t in push_data])
    goals = np.concatenate([t.obs["achieved_goal"] for t in push_data])[::-1].copy()  # far-off goals
    values = {e: m.value(m.encode(obs), m.encode_goal(goals)).mean() for e, m in fits.items()}
    assert values[0.9] > values[0.5]  # the in-sample maximum sits above the mean over the data's actions
    with pytest.raises(ValueError, match="expectile"):
        GoalModelConfig(expectile=1.5)


def test_two_hot_bins_round_trip_and_a_binned_model_trains_saves_and_loads(push_data, tmp_path):
    from sb3_ot.planners.model import from_bins, two_hot

    steps = torch.tensor([0.0, -1.0, -3.5, -12.0, -49.0, -600.0])
    enc = two_hot(steps, 101)
    assert enc.shape == (6, 101) and torch.allclose(enc.sum(-1), torch.ones(6))
    assert (enc > 0).sum(-1).max() <= 2
    # the log of a two-hot's mean is its symlog: decoding the log-weights returns the steps
    torch.testing.assert_close(from_bins(enc.clamp_min(1e-30).log()), steps, rtol=1e-4, atol=1e-4)
    model = GoalModel(env_id="FetchPush-v4", seed=0, value_bins=101, q_coef=0.1, **TINY)
    model.fit(push_data, n_updates=60, progress=False)
    z = torch.zeros(3, 16)
    assert model.nets.q_heads(z, torch.zeros(3, 4), z).shape == (2, 3, 101)  # n_q heads of 101 bins
    first, last = model.history[0], model.history[-1]
    assert np.isfinite(list(last.values())).all() and last["w"] < first["w"], (first["w"], last["w"])
    zg = model.encode_goal(push_data[0].obs["achieved_goal"])
    w = model.goal_value(zg[:-1], zg[1:])
    assert w.shape == (len(zg) - 1,) and np.isfinite(w).all()
    loaded = GoalModel.load(model.save(tmp_path / "binned.pt"))
    np.testing.assert_array_equal(loaded.goal_value(zg[:-1], zg[1:]), w)
    with pytest.raises(ValueError, match="value_bins must be 0"):
        GoalModelConfig(value_bins=1)


def test_log_value_units_round_trip_and_a_log_model_trains_saves_and_loads(push_data, tmp_path):
    model = GoalModel(env_id="FetchPush-v4", seed=0, value_units="log", value_scale=600.0, **TINY)
    model.fit(push_data, n_updates=60, progress=False)
    nets = model.nets
    td = torch.tensor([0.0, -1.0, -7.0, -12.0, -300.0, -600.0]) / 600.0
    raw = nets.to_units(td)
    assert raw.min() >= -1.0 and raw.max() <= 0.0
    torch.testing.assert_close(nets.from_units(raw), td, rtol=1e-4, atol=1e-7)
    # the point of the log units: 7 and 12 steps are far apart in them, not 0.008 of the range
    assert float(raw[2] - raw[3]) > 0.07
    z = model.encode(push_data[0].obs["observation"])
    zg = model.encode_goal(push_data[0].obs["achieved_goal"])
    v = model.value(z, zg)
    torch.testing.assert_close(
        torch.as_tensor(v[:4]),
        torch.as_tensor(np.diag(model.value_matrix(z[:4], zg[:4]))),
        rtol=1e-4,
        atol=1e-4,
    )
    assert np.isfinite(list(model.history[-1].values())).all()
    loaded = GoalModel.load(model.save(tmp_path / "log.pt"))
    assert loaded.config.value_units == "log"
    np.testing.assert_array_equal(loaded.value(z, zg), v)
    with pytest.raises(ValueError, match="value_units"):
        GoalModelConfig(value_units="steps")


def test_fit_w_refits_only_w_and_a_high_w_expectile_shortens_it(fitted, push_data, tmp_path):
    model = GoalModel.load(fitted.save(tmp_path / "gm.pt"))
    before = {k: v.clone() for k, v in model.nets.state_dict().items()}
    zg = model.encode_goal(np.concatenate([t.obs["achieved_goal"] for t in push_data]))
    pairs = (zg[:-1:3], zg[1::3])
    w_before = model.goal_value(*pairs)
    model.fit_w(push_data, n_updates=150, w_expectile=0.95, progress=False)
    after = model.nets.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("w.") for k in changed), changed
    assert model.config.w_expectile == 0.95 and model.w_updates == 150 and model.n_updates == 400
    assert model.history[-1]["w_update"] == 150 and np.isfinite(model.history[-1]["w"])
    # the 0.95-expectile of the steps-to-go targets is nearer than their mean: W moves towards 0
    assert model.goal_value(*pairs).mean() > w_before.mean() + 0.1, (
        model.goal_value(*pairs).mean(),
        w_before.mean(),
    )
    loaded = GoalModel.load(model.save(tmp_path / "refit.pt"))
    assert loaded.w_updates == 150 and loaded.config.w_expectile == 0.95
    np.testing.assert_array_equal(loaded.goal_value(*pairs), model.goal_value(*pairs))
    with pytest.raises(ValueError, match="w_expectile"):
        model.fit_w(push_data, n_updates=1, w_expectile=1.5)
    with pytest.raises(ValueError, match="n_updates"):
        model.fit_w(push_data, n_updates=0, w_expectile=0.6)
    assert model.config.w_expectile == 0.95  # a refit that failed leaves the config as it was
    with pytest.raises(ValueError, match="w_expectile applies to a regressed W"):
        GoalModelConfig(value_bins=101, w_expectile=0.9)
    with pytest.raises(ValueError, match="not fitted"):
        GoalModel(**TINY).fit_w(push_data, n_updates=1)
