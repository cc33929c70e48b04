"""OT rewarders: ordering, batching, several experts, edge cases, presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sb3_ot.data import Trajectory, rollout, sinusoidal_policy
from sb3_ot.data.envs import make_env
from sb3_ot.encoders import NormalizedStateEncoder
from sb3_ot.rewards import AILOTRewarder, OTRewarder, OTRRewarder


@pytest.fixture(scope="module")
def cheetah():
    env = make_env("HalfCheetah-v5")
    gait = sinusoidal_policy(env.action_space, seed=0)
    expert = rollout(env, gait, max_steps=150, seed=0)[0]
    agents = {
        "noisy expert": rollout(
            env, sinusoidal_policy(env.action_space, seed=0, noise=0.2), max_steps=150, seed=3
        )[0],
        "other gait": rollout(env, sinusoidal_policy(env.action_space, seed=1), max_steps=120, seed=3)[0],
        "random": rollout(env, None, max_steps=150, seed=3)[0],
    }
    env.close()
    encoder = NormalizedStateEncoder().fit([expert, *agents.values()])
    return expert, agents, encoder


def test_rewards_rank_agents_by_closeness_to_the_expert(cheetah):
    expert, agents, encoder = cheetah
    rewarder = OTRewarder(encoder, pair_offset_k=2, start_alignment=True).set_expert(expert)
    r = dict(zip(agents, rewarder.rewards(list(agents.values())), strict=True))
    assert [len(v) for v in r.values()] == [150, 120, 150]
    assert all(v.dtype == np.float32 and np.all((v > 0) & (v <= 1)) for v in r.values())
    assert r["noisy expert"].mean() > r["other gait"].mean() > r["random"].mean()
    own = rewarder.rewards(expert)[0]
    assert own.mean() > r["noisy expert"].mean()


def test_batched_rewards_equal_one_at_a_time(cheetah):
    expert, agents, encoder = cheetah
    rewarder = OTRewarder(encoder, pair_offset_k=3, tol=1e-5, batch_size=2).set_expert(expert)
    together = rewarder.rewards(list(agents.values()))
    for traj, r in zip(agents.values(), together, strict=True):
        np.testing.assert_allclose(rewarder.rewards([traj])[0], r, rtol=2e-4, atol=1e-6)


def test_several_experts_of_different_lengths_keep_the_best(cheetah):
    expert, agents, encoder = cheetah
    other = agents["other gait"]
    both = OTRewarder(encoder).set_expert([expert, other])
    alone = {
        name: OTRewarder(encoder).set_expert(e).rewards(agents["noisy expert"])[0]
        for name, e in (("expert", expert), ("other", other))
    }
    best = both.rewards(agents["noisy expert"])[0]
    winner = max(alone, key=lambda k: alone[k].sum())
    np.testing.assert_allclose(best, alone[winner], rtol=1e-4)
    mean = (
        OTRewarder(encoder, aggregation="mean").set_expert([expert, other]).rewards(agents["noisy expert"])[0]
    )
    np.testing.assert_allclose(mean, (alone["expert"] + alone["other"]) / 2, rtol=1e-4)


def test_edge_cases_short_expert_length_one_agent_dict_observations(cheetah):
    expert, agents, encoder = cheetah
    short = Trajectory(expert.observations()[:3], None, terminated=False)  # 2 steps, shorter than k = 5
    rewarder = OTRewarder(encoder, pair_offset_k=5, start_alignment=True).set_expert(short)
    (r,) = rewarder.rewards(agents["random"])
    assert r.shape == (150,) and np.isfinite(r).all()
    one = Trajectory(expert.observations()[:2], expert.acts[:1], expert.rews[:1], terminated=True)
    (r1,) = OTRewarder(encoder, pair_offset_k=2).set_expert(expert).rewards(one)
    assert r1.shape == (1,) and 0 < r1[0] <= 1
    # dict observations: the chosen key is used, in the expert and the agents alike
    as_dict = lambda t, extra: Trajectory(  # noqa: E731
        {"observation": t.observations(), "goal": np.full((len(t) + 1, 2), extra)},
        t.acts,
        t.rews,
        terminated=False,
    )
    plain = OTRewarder(encoder).set_expert(expert).rewards(agents["random"])[0]
    keyed = OTRewarder(encoder, obs_key="observation").set_expert(as_dict(expert, 0.0))
    np.testing.assert_allclose(keyed.rewards(as_dict(agents["random"], 9.0))[0], plain, rtol=1e-5)
    with pytest.raises(ValueError, match="key 'goal_pos' is not in the dict observations"):
        OTRewarder(encoder, obs_key="goal_pos").set_expert(as_dict(expert, 0.0))


def test_bad_inputs_fail_clearly(cheetah):
    expert, agents, encoder = cheetah
    rewarder = OTRewarder(encoder)
    with pytest.raises(ValueError, match="no expert set"):
        rewarder.rewards(agents["random"])
    with pytest.raises(ValueError, match="expert must hold at least one trajectory; got none"):
        rewarder.set_expert([])
    bad = expert.observations().copy()
    bad[4, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"expert\[0\]: Trajectory: obs must be finite; got nan at index \(4, 2\)"
    ):
        rewarder.set_expert([bad])
    with pytest.raises(
        ValueError, match="set_expert: expert observations have obs_dim 5 but the encoder expects 17"
    ):
        rewarder.set_expert(np.zeros((151, 5)))
    rewarder.set_expert(expert)
    with pytest.raises(ValueError, match="rewards: trajectories have obs_dim 3 but the expert has 17"):
        rewarder.rewards(rollout("Pendulum-v1", max_steps=5))
    with pytest.raises(
        ValueError, match=r"OTRewarder: cost must be one of \['sqeuclidean', 'cosine'\]; got 'l1'"
    ):
        OTRewarder(cost="l1")
    with pytest.raises(ValueError, match="OTRewarder: pair_offset_k must be an int >= 0; got -1"):
        OTRewarder(pair_offset_k=-1)
    with pytest.raises(ValueError, match="OTRewarder: unknown settings \\['epsilon'\\]"):
        OTRewarder(epsilon=0.1)


def test_presets(cheetah):
    expert, agents, encoder = cheetah
    otr = OTRRewarder().set_expert(expert)
    assert otr.cost == "cosine" and otr.scale == pytest.approx(5.0 / 17) and otr.alpha == 5.0
    r = dict(zip(agents, otr.rewards(list(agents.values())), strict=True))
    assert np.all(np.concatenate(list(r.values())) <= 5.0)
    assert r["noisy expert"].mean() > r["random"].mean()
    relabelled = otr.relabel([agents["random"]])[0]
    np.testing.assert_array_equal(relabelled.infos["env_reward"], agents["random"].rews)
    np.testing.assert_allclose(
        relabelled.rews, r["random"], rtol=1e-3
    )  # alone vs in a batch: solver tolerance
    ailot = AILOTRewarder(encoder, k=2).set_expert(expert)
    assert ailot.start_alignment and ailot.k == 2 and ailot.cost == "sqeuclidean"


def test_exact_solver_is_the_unregularised_plan(cheetah):
    expert, agents, encoder = cheetah
    exact = OTRewarder(encoder, solver="exact").set_expert(expert)
    entropic = OTRewarder(encoder, eps=0.01).set_expert(expert)
    agent = agents["noisy expert"]
    r_exact, r_entropic = exact.rewards([agent])[0], entropic.rewards([agent])[0]
    # sum_i T c_i / T is the OT cost: the exact plan's equals POT's value on the same features
    cost = -np.log(r_exact).mean()
    want = ot_emd_value(exact.features(agent.obs), exact.experts[0])
    assert cost == pytest.approx(want, rel=1e-4)
    assert -np.log(r_entropic).mean() >= cost - 1e-6  # the entropic plan's transport cost is no lower
    # prefix rewards (the step mode's problem) work with the exact solver too, batched with padding
    prefixes = [agent.obs[: n + 1] for n in (3, 40, 90)]
    batched = exact.prefix_rewards(prefixes, last_only=False)
    for p, r in zip(prefixes, batched, strict=True):
        np.testing.assert_allclose(r, exact.prefix_rewards([p], last_only=False)[0], rtol=1e-5)
    with pytest.raises(ValueError, match="OTRewarder: solver must be one of"):
        OTRewarder(encoder, solver="emd")


def ot_emd_value(x, y) -> float:
    """Exact OT cost between uniform clouds under the rewarder's |x - y|^2 cost (features are
    pre-divided by sqrt(D)), through the engine's POT metric."""
    from sb3_ot import ot

    return ot.emd(x.double(), y.double(), metric="sqeuclidean")


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_reward_path_on_an_explicit_device_equals_the_numpy_path(cheetah, device):
    """Encoding, OT and rewards with tensors kept on ``device`` give the numpy path's rewards."""
    expert, agents, encoder = cheetah
    trajs = list(agents.values())
    for make in (
        lambda dev: OTRewarder(encoder, pair_offset_k=2, start_alignment=True, device=dev),
        lambda dev: OTRRewarder(device=dev),
        lambda dev: OTRewarder(NormalizedStateEncoder(), solver="exact", device=dev),
    ):
        numpy_path = make(None).set_expert(expert)
        tensor_path = make(device).set_expert(torch.tensor(expert.observations(), device=device))
        assert tensor_path.device.type == device and all(e.device.type == device for e in tensor_path.experts)
        want = numpy_path.rewards(trajs)
        got = tensor_path.rewards([torch.tensor(t.observations(), device=device) for t in trajs])
        for w, g in zip(want, got, strict=True):
            assert isinstance(w, np.ndarray) and isinstance(g, torch.Tensor) and g.device.type == device
            np.testing.assert_allclose(g.cpu().numpy(), w, rtol=1e-4, atol=1e-6)
        prefixes = [torch.tensor(t.observations()[:30], device=device) for t in trajs]
        np.testing.assert_allclose(
            tensor_path.prefix_rewards(prefixes).cpu().numpy(),
            numpy_path.prefix_rewards([p.cpu().numpy() for p in prefixes]),
            rtol=1e-4,
        )


def test_coupling_is_the_plan_behind_the_rewards(cheetah):
    expert, agents, encoder = cheetah
    other = agents["other gait"]
    rewarder = AILOTRewarder(encoder, k=2).set_expert([other, expert])
    traj = agents["noisy expert"]
    c = rewarder.coupling(traj)
    assert c.expert == 1 and c.plan.shape == (len(traj), len(expert))
    np.testing.assert_allclose(c.plan.sum(1).numpy(), 1 / len(traj), rtol=1e-3)
    # start alignment: no mass on the expert's steps before the aligned start
    first = int(torch.nonzero(c.plan.sum(0) > 0)[0])
    assert c.plan[:, :first].sum() == 0
    r = rewarder.rewards(traj)[0]
    np.testing.assert_allclose(r, np.exp(-len(traj) * c.row_cost.double().numpy()), rtol=1e-4)
    with pytest.raises(ValueError, match="coupling: expert must index one of the 2 experts; got 5"):
        rewarder.coupling(traj, expert=5)


def test_rewarders_save_and_load_identically(cheetah, tmp_path):
    expert, agents, encoder = cheetah
    trajs = list(agents.values())
    for rewarder in (
        AILOTRewarder(encoder, k=3, tau=2.0).set_expert(expert),
        OTRRewarder().set_expert([expert, agents["other gait"]]),
        OTRewarder(solver="exact", obs_key="observation").set_expert(expert),
    ):
        path = rewarder.save(tmp_path / f"{type(rewarder).__name__}.pt")
        again = OTRewarder.load(path)
        assert type(again) is type(rewarder) and again.config == rewarder.config
        assert again.obs_key == rewarder.obs_key and again.scale == rewarder.scale
        for a, b in zip(again.rewards(trajs), rewarder.rewards(trajs), strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="OTRRewarder.load: .* holds a 'AILOTRewarder', not a OTRRewarder"):
        OTRRewarder.load(tmp_path / "AILOTRewarder.pt")
    with pytest.raises(ValueError, match="OTRewarder.save: no expert set"):
        OTRewarder().save(tmp_path / "empty.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "AILOTRewarder.pt",
        "OTRRewarder.pt",
        "OTRewarder.pt",
    ]
