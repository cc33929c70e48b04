"""ZILOTPolicy: the planners (ZILOT, MPC+Cls, Pi+Cls) behind SB3's policy interface, iCEM, per-env
episodes under evaluate_policy, save/load, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_ot.data import rollout
from sb3_ot.data.envs import make_env
from sb3_ot.datasets.scripted import FetchController
from sb3_ot.planners.icem import ICEMConfig, colored_noise, icem
from sb3_ot.planners.model import GoalModel
from sb3_ot.planners.planner import Planner, PlannerConfig
from sb3_ot.planners.policy import ZILOTPolicy

FAST = {"population": 32, "elites": 4, "iterations": 2, "horizon": 4}
GOALS = np.array([[1.3, 0.7, 0.425], [1.3, 0.8, 0.425], [1.2, 0.8, 0.425]])


@pytest.fixture(scope="module")
def push():
    env = make_env("FetchPush-v4")
    trajs = rollout(env, FetchController(env), n_episodes=4, seed=0)
    model = GoalModel(env_id="FetchPush-v4", latent_dim=16, enc_dim=32, mlp_dim=32, batch_size=32)
    model.fit(trajs, n_updates=20, progress=False)
    yield env, model
    env.close()


def test_icem_finds_the_optimum_and_noise_is_coloured():
    gen = torch.Generator().manual_seed(0)
    target = torch.tensor([0.3, -0.7])
    best, elites = icem(
        lambda a: -((a - target) ** 2).sum((-1, -2)),
        2,
        2,
        ICEMConfig(population=128, horizon=6),
        gen,
        torch.device("cpu"),
    )
    assert best.shape == (2, 6, 2) and elites.shape == (2, 6, 6, 2)
    assert torch.allclose(best[:, 0], target.expand(2, 2), atol=0.15)
    red = colored_noise(2.0, (4000,), 16, gen, torch.device("cpu"))
    white = colored_noise(0.0, (4000,), 16, gen, torch.device("cpu"))
    lag1 = [np.corrcoef(x[:, :-1].flatten(), x[:, 1:].flatten())[0, 1] for x in (red.numpy(), white.numpy())]
    assert lag1[0] > 0.5 and abs(lag1[1]) < 0.1, lag1


@pytest.mark.parametrize("method", ["zilot", "mpc+cls", "pi+cls"])
def test_evaluate_policy_starts_each_env_afresh(push, method):
    _, model = push
    lengths = (3, 5)  # the envs' episodes end at different steps
    venv = DummyVecEnv([lambda n=n: make_env("FetchPush-v4", max_episode_steps=n) for n in lengths])
    policy = ZILOTPolicy(model, venv.observation_space, venv.action_space, method=method, **FAST)
    policy.set_expert([GOALS, GOALS[::-1]])
    seen = []

    def check(local, _globals):
        i = local["i"]  # the planner's record of env i's episode holds exactly the steps taken in it
        seen.append((i, len(policy.planner.tracks[i].hist_v), int(local["current_lengths"][i])))

    evaluate_policy(policy, venv, n_eval_episodes=6, callback=check, warn=False)
    assert all(hist == steps for _, hist, steps in seen), seen
    assert {steps for i, _, steps in seen if i == 0} == {1, 2, 3}
    assert {steps for i, _, steps in seen if i == 1} == {1, 2, 3, 4, 5}
    np.testing.assert_array_equal(policy.planner.tracks[1].goals.shape, (3, 16))
    assert policy.planner.timings["steps"] > 0
    venv.close()


@pytest.mark.parametrize("method", ["zilot", "mpc+cls", "pi+cls"])
def test_planner_keeps_the_best_sequence_it_acted_on(push, method):
    env, model = push
    planner = Planner(model, method=method, seed=0, **FAST)
    planner.reset(0, GOALS)
    obs, _ = env.reset(seed=0)
    action = planner.act(obs["observation"][None])[0]
    plan = planner.tracks[0].plan
    if method == "pi+cls":  # the policy acts without a plan
        assert plan is None
        return
    assert plan.shape == (FAST["horizon"], 4)
    np.testing.assert_array_equal(plan[0].numpy(), action)


def test_save_load_round_trip_plans_the_same(push, tmp_path):
    env, model = push
    policy = ZILOTPolicy(model, env.observation_space, env.action_space, seed=3, **FAST).set_expert(GOALS)
    path = policy.save(tmp_path / "zilot.pt")
    loaded = ZILOTPolicy.load(path)
    assert loaded.config == policy.config and loaded.goal_model.env_id == "FetchPush-v4"
    obs, _ = env.reset(seed=0)
    for k in range(3):
        a, _ = policy.predict(obs, episode_start=np.array([k == 0]))
        b, _ = loaded.predict(obs, episode_start=np.array([k == 0]))
        np.testing.assert_array_equal(a, b)
        assert a.shape == (4,) and env.action_space.contains(a)
        obs, *_ = env.step(a)


def test_bad_inputs_fail_clearly(push, tmp_path):
    env, model = push
    policy = ZILOTPolicy(model, env.observation_space, env.action_space, **FAST)
    with pytest.raises(ValueError, match="no expert goals; call set_expert"):
        policy.predict(env.reset(seed=0)[0])
    with pytest.raises(ValueError, match=r"goals must have shape \[T, 3\]"):
        policy.set_expert(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="goals is empty"):
        policy.set_expert(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"goals\[1\] must be finite"):
        policy.set_expert([GOALS, np.full((2, 3), np.nan)])
    pendulum = make_env("Pendulum-v1")
    with pytest.raises(ValueError, match="observation_space must be a goal env's Dict"):
        ZILOTPolicy(model, pendulum.observation_space, pendulum.action_space)
    maze = make_env("PointMaze_Medium-v3")
    with pytest.raises(ValueError, match="a model of another env"):
        ZILOTPolicy(model, maze.observation_space, maze.action_space)
    with pytest.raises(ValueError, match="method must be one of"):
        PlannerConfig(method="cem")
    model.save(tmp_path / "model.pt")
    with pytest.raises(ValueError, match="is not a ZILOT policy"):
        ZILOTPolicy.load(tmp_path / "model.pt")
