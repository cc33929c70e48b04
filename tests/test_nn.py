"""sb3_ot.nn: the ensemble computes what separate MLPs would; Polyak moves the target by tau."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sb3_ot.nn import EnsembleLayerNorm, EnsembleLinear, ensemble_mlp, mlp, polyak_update


@pytest.mark.parametrize("norm", ["after", "before", "none"])
def test_ensemble_equals_its_members_run_one_by_one(norm):
    torch.manual_seed(0)
    k, b, d_in = 3, 5, 4
    ens = ensemble_mlp(k, d_in, (8, 6), 2, activation=nn.Mish, norm=norm)
    with torch.no_grad():  # give every member's LayerNorm its own non-trivial affine parameters
        for m in ens.modules():
            if isinstance(m, EnsembleLayerNorm):
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.5, 0.5)
    x = torch.randn(k, b, d_in)
    out = ens(x)
    assert out.shape == (k, b, 2)
    for i in range(k):
        single = mlp(d_in, (8, 6), 2, activation=nn.Mish, norm=norm)
        params = iter(single.parameters())
        with torch.no_grad():
            for m in ens:
                if isinstance(m, EnsembleLinear):
                    next(params).copy_(m.weight[i].T), next(params).copy_(m.bias[i, 0])
                elif isinstance(m, EnsembleLayerNorm):
                    next(params).copy_(m.weight[i, 0]), next(params).copy_(m.bias[i, 0])
        torch.testing.assert_close(out[i], single(x[i]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ens(x[0]), ens(x[0].expand(k, b, d_in)))  # a shared batch broadcasts


def test_mlp_layout_and_polyak_update():
    net = mlp(3, (16, 16))
    assert [type(m).__name__ for m in net] == ["Linear", "GELU", "LayerNorm"] * 2  # ICVF's order
    assert [type(m).__name__ for m in mlp(3, (16,), 1, norm="before")] == [
        "Linear",
        "LayerNorm",
        "GELU",
        "Linear",
    ]
    target = mlp(3, (16, 16))
    before = [p.clone() for p in target.parameters()]
    polyak_update(net, target, 0.25)
    for p, t, b in zip(net.parameters(), target.parameters(), before, strict=True):
        torch.testing.assert_close(t, 0.75 * b + 0.25 * p)
    with pytest.raises(ValueError, match="mlp: norm must be 'after', 'before' or 'none'; got 'middle'"):
        mlp(3, (4,), norm="middle")  # type: ignore[arg-type]


def test_image_cnns_map_64x64_frames_to_features_and_back():
    from sb3_ot.nn import conv_decoder, conv_encoder, image_tensor

    torch.manual_seed(0)
    frames = torch.randint(0, 256, (2, 9, 64, 64), dtype=torch.uint8)  # 3 stacked RGB frames
    x = image_tensor(frames, 9, "obs", "f")
    assert x.dtype == torch.float32 and float(x.min()) >= -0.5 and float(x.max()) <= 0.5
    features = conv_encoder(9, depth=8)(x)
    assert features.shape == (2, 32 * 8)
    assert conv_decoder(features.shape[1], 9, depth=8)(features).shape == (2, 9, 64, 64)
    loss = conv_decoder(features.shape[1], 9, depth=8)(features).pow(2).mean()
    loss.backward()  # gradients reach the encoder


def test_image_tensor_refuses_channels_last_other_sizes_floats_and_states():
    from sb3_ot.nn import image_tensor

    with pytest.raises(
        ValueError, match=r"f: obs must be images \[\.\.\., 3, 64, 64\]; got \(64, 64, 3\) \(channels last"
    ):
        image_tensor(np.zeros((64, 64, 3), np.uint8), 3, "obs", "f")
    with pytest.raises(ValueError, match=r"got \(3, 84, 84\) \(resize frames to 64 x 64\)"):
        image_tensor(np.zeros((2, 3, 84, 84), np.uint8), 3, "obs", "f")
    with pytest.raises(ValueError, match="must be uint8 frames"):
        image_tensor(np.zeros((3, 64, 64), np.float32), 3, "obs", "f")
    with pytest.raises(ValueError, match="a state vector\\? this model was built for pixels"):
        image_tensor(np.zeros((5, 17), np.uint8), 3, "obs", "f")
