"""relabel_dataset: Minari in, relabelled Minari + d3rlpy out, env rewards kept aside."""

from __future__ import annotations

import numpy as np

from sb3_ot.data import load_trajectories, rollout, save_minari, sinusoidal_policy
from sb3_ot.data.envs import make_env
from sb3_ot.rewards import OTRRewarder
from sb3_ot.wrappers import relabel_dataset


def test_relabel_minari_dataset_to_minari_and_d3rlpy(tmp_path):
    env = make_env("HalfCheetah-v5")
    expert = rollout(env, sinusoidal_policy(env.action_space, seed=0), max_steps=60, seed=0)
    data = rollout(
        env, sinusoidal_policy(env.action_space, seed=0, noise=0.5), n_episodes=3, max_steps=60, seed=1
    )
    data += rollout(env, None, n_episodes=2, max_steps=40, seed=2)
    env.close()
    save_minari(data, "src/data-v0", env="HalfCheetah-v5", data_path=tmp_path)
    rewarder = OTRRewarder().set_expert(expert)
    out = relabel_dataset(
        "src/data-v0", rewarder, dataset_id="src/relabelled-v0", data_path=tmp_path, progress=False
    )
    raw = rewarder.rewards(data)
    returns = [r.sum() for r in raw]
    assert np.isclose(out.reward_scale, 1000.0 / (max(returns) - min(returns)))
    for traj, r, orig in zip(out.trajectories, raw, data, strict=True):
        np.testing.assert_allclose(traj.rews, r * out.reward_scale, rtol=1e-5)
        np.testing.assert_array_equal(traj.infos["env_reward"], orig.rews)
    assert load_trajectories("src/relabelled-v0", data_path=tmp_path) == out.trajectories
    assert out.minari_dataset.spec.env_spec.id == "HalfCheetah-v5"
    assert out.mdp_dataset.transition_count == sum(len(t) for t in data)
    plain = relabel_dataset(data, rewarder, postprocess=None, d3rlpy=False, progress=False)
    assert plain.reward_scale == 1.0 and plain.mdp_dataset is None
    np.testing.assert_allclose(plain.trajectories[0].rews, raw[0], rtol=1e-6)
