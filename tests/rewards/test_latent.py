"""LatentRewarder (DITTO): the formula, time-aligned batched lookup, clear errors, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sb3_ot.rewards import LatentRewarder


def _experts(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 6, generator=g) for n in (11, 4, 7)]


def test_formula_is_one_for_the_expert_and_falls_with_angle_and_norm():
    experts = _experts()
    reward = LatentRewarder(experts, center=False)  # DITTO's formula on the raw latents
    zE = experts[0][3]
    ortho = torch.randn(6)
    ortho -= (ortho @ zE) / (zE @ zE) * zE  # orthogonal to zE
    z = torch.stack([zE, -zE, 2 * zE, 0.5 * zE, ortho])
    r = reward(z, None, torch.zeros(5, dtype=torch.long), torch.full((5,), 3))
    torch.testing.assert_close(r, torch.tensor([1.0, -1.0, 0.5, 0.5, 0.0]), atol=1e-5, rtol=1e-5)


def test_batched_rows_look_up_each_episode_at_its_own_time():
    experts = _experts()
    reward = LatentRewarder([e.numpy() for e in experts], center=False)  # numpy latents work too
    episode = torch.tensor([0, 1, 2, 1, 0])
    time = torch.tensor([10, 3, 0, 1, 5])
    z = torch.randn(5, 6)
    got = reward(z, None, episode, time)
    for i in range(5):
        zE = experts[int(episode[i])][int(time[i])]
        want = (z[i] @ zE) / torch.maximum(z[i].norm(), zE.norm()) ** 2
        torch.testing.assert_close(got[i], want)
    assert got.shape == (5,) and bool(((got >= -1) & (got <= 1)).all())


def test_centring_measures_latents_from_the_mean_expert_latent():
    experts = [e + 5.0 for e in _experts()]  # a large common component, as a world model's latents have
    plain, centred = LatentRewarder(experts), LatentRewarder(experts, center=True)
    c = torch.cat(experts).mean(0)
    torch.testing.assert_close(centred.origin, c)
    episode, time = torch.tensor([0, 1, 2]), torch.tensor([4, 2, 6])
    z = torch.stack([experts[0][4], experts[0][7], c])  # itself, another expert state, the common component
    got = centred(z, None, episode, time)
    assert float(got[0]) == pytest.approx(1.0, abs=1e-6) and float(got[2]) == 0.0
    want = ((z[1] - c) @ (experts[1][2] - c)) / torch.maximum(
        (z[1] - c).norm(), (experts[1][2] - c).norm()
    ) ** 2
    torch.testing.assert_close(got[1], want)
    # the raw formula barely tells another expert state (or the common component) from the right one
    assert float(plain(z, None, episode, time)[2]) > 0.95 > float(got[2]) + 0.9
    with pytest.raises(ValueError, match="LatentRewarder: center must be True or False; got 1"):
        LatentRewarder(experts, center=1)


def test_bad_inputs_name_the_argument():
    reward = LatentRewarder(_experts())
    z, ep, t = torch.zeros(2, 6), torch.tensor([0, 3]), torch.tensor([0, 0])
    with pytest.raises(ValueError, match=r"episode\[1\] = 3 is not one of the 3 expert episodes"):
        reward(z, None, ep, t)
    with pytest.raises(ValueError, match=r"time\[1\] = 4 is past expert episode 1's 4 latents"):
        reward(z, None, torch.tensor([0, 1]), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match=r"z_next must be latents \[n, 6\]; got shape \(2, 5\)"):
        reward(torch.zeros(2, 5), None, torch.tensor([0, 1]), t)
    with pytest.raises(ValueError, match="z_next must be finite"):
        reward(torch.full((2, 6), float("nan")), None, torch.tensor([0, 1]), t)
    with pytest.raises(ValueError, match="no expert latents set"):
        LatentRewarder()(z, None, t, t)
    with pytest.raises(
        ValueError, match=r"expert_latents\[1\] has latent size 3 but expert_latents\[0\] has 6"
    ):
        LatentRewarder([torch.zeros(3, 6), torch.zeros(3, 3)])
    with pytest.raises(ValueError, match=r"expert_latents\[0\] must be latents \[T\+1, L\] with T >= 1"):
        LatentRewarder([torch.zeros(1, 6)])
    with pytest.raises(ValueError, match=r"expert_latents\[0\] must be finite"):
        LatentRewarder([np.full((3, 6), np.nan)])


@pytest.mark.parametrize("center", [True, False])
def test_save_and_load_identically(tmp_path, center):
    reward = LatentRewarder(_experts(), center=center)
    again = LatentRewarder.load(reward.save(tmp_path / "ditto.pt"))
    z, ep, t = torch.randn(4, 6), torch.tensor([0, 1, 2, 2]), torch.tensor([9, 2, 6, 0])
    torch.testing.assert_close(again(z, None, ep, t), reward(z, None, ep, t), rtol=0, atol=0)
    torch.testing.assert_close(again.lengths, reward.lengths)
    assert again.center is center


def test_the_registered_imagination_id_rewards_as_latent_rewarder_does():
    """`sb3_ot/Imagination-v0` with reward="ditto" carries its own copy of the formula (world_models never
    imports sb3_ot.rewards); both must give the same rewards."""
    from sb3_ot.world_models.imagination import ImaginationStarts, _ditto_reward

    experts = _experts(1)
    starts = ImaginationStarts(tuple(experts))
    episode, time = torch.tensor([0, 2, 1, 0]), torch.tensor([1, 6, 3, 10])
    z = torch.randn(4, 6)
    torch.testing.assert_close(
        _ditto_reward(starts)(z, None, episode, time), LatentRewarder(experts)(z, None, episode, time)
    )
