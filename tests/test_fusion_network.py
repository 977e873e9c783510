"""The fusion network's shapes, X-ray/dynamics tying and L2 term (paper section 5.2, Figure 5)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from massbench.plugins.fusion_torch.network import (
    FusionConfig,
    FusionNet,
    count_parameters,
    same_pads,
)

pytestmark = pytest.mark.torch


def test_paper_sized_forward_shapes_and_parameter_count() -> None:
    torch.manual_seed(0)
    net = FusionNet(FusionConfig()).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 128, 128), torch.rand(2, 64, 64, 64) / 64**3)
    assert out.shape == (2,) and torch.isfinite(out).all()
    # 3D branch on 64^3: 60 -> 30 -> 28 -> 14 -> 14 -> 7, 8 filters: 2,744 features into Dense 128
    assert net.dyn[-3].in_features == 7**3 * 8
    # 2D branch as the multi-band CNN: 128 -> pool 4 -> 32 -> pool 2 -> 16, 10 filters
    assert net.xray[-3].in_features == 16 * 16 * 10
    # the paper's notebook (strides 2, 2, 2, 1 in the 2D branch) quotes "about 430k parameters"
    assert 420_000 < count_parameters(FusionNet(FusionConfig(xray_strides=[2, 2, 2, 1]))) < 440_000


def test_cheap_cube_size_pools_cube_and_tied_map() -> None:
    net = FusionNet(FusionConfig(cube_size=32)).eval()
    net.set_scalers(0.2, 1.5, 1e-3, 2e-3, 13.5, 15.0)
    assert net.cube_pool == 2 and net.map_pool == 4
    seen = {}
    net.dyn[0].register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0].detach().clone()))
    cube = torch.rand(3, 64, 64, 64) * 1e-3
    with torch.no_grad():
        assert net(torch.rand(3, 3, 128, 128), cube).shape == (3,)
    # the 3D branch sees the 2x2x2 means of the standardised cube
    expected = ((cube - 1e-3) / 2e-3).reshape(3, 32, 2, 32, 2, 32, 2).mean(dim=(2, 4, 6))
    torch.testing.assert_close(seen["x"][:, 0], expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="cube_size"):
        FusionNet(FusionConfig(cube_size=48))


def test_keras_same_padding() -> None:
    assert same_pads(128, 5, 1) == (2, 2)
    assert same_pads(128, 5, 2) == (1, 2)  # TensorFlow puts the extra pixel after
    assert same_pads(64, 3, 2) == (0, 1)
    net = FusionNet(FusionConfig(xray_strides=[2, 2, 2, 1]))
    x = torch.rand(1, 3, 128, 128)
    sizes = []
    for layer in net.xray:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv2d):
            sizes.append(x.shape[-1])
    assert sizes == [64, 32, 4, 4]


def test_xray_map_is_tied_to_the_cube_at_the_same_sky_positions() -> None:
    """The 3D branch sees the cube plus the pooled, standardised map repeated along v."""
    cfg = FusionConfig(
        map_size=32,
        cube_input=16,
        cube_size=16,
        xray_dense=8,
        dyn_dense=8,
        head_dense=[8],
        dyn_filters=[2, 2, 2],
        xray_filters=[2, 2, 2, 2],
    )
    net = FusionNet(cfg).eval()
    net.set_scalers(0.5, 2.0, 0.1, 3.0, 13.5, 15.0)
    seen = {}
    net.dyn[0].register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0].detach().clone()))
    x = torch.zeros(1, 3, 32, 32)
    x[0, 1, 20:22, 6:8] = 4.0  # a bright 2x2 pixel block in band 1 at map (x, y) = (20..21, 6..7)
    cube = torch.rand(1, 16, 16, 16)
    with torch.no_grad():
        net(x, cube)
    dyn_in = seen["x"]
    assert dyn_in.shape == (1, 4, 16, 16, 16)
    torch.testing.assert_close(dyn_in[0, 0], (cube[0] - 0.1) / 3.0)
    tied = dyn_in[0, 1:]
    assert torch.equal(tied, tied[..., :1].expand_as(tied))  # constant along the velocity axis
    expected = torch.full((3, 16, 16), (0 - 0.5) / 2.0)
    expected[1, 10, 3] = (4.0 - 0.5) / 2.0  # map pixels 20-21, 6-7 -> cube cell 10, 3
    torch.testing.assert_close(tied[..., 0], expected)


def test_l2_penalty_is_the_sum_of_squared_kernels() -> None:
    net = FusionNet(FusionConfig(map_size=32, cube_input=16, cube_size=16))
    expected = sum(
        float((m.weight.detach() ** 2).sum())
        for m in net.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear))
    )
    assert float(net.l2_penalty().detach()) == pytest.approx(expected, rel=1e-6)
    n_kernels = len(net.kernels())
    assert n_kernels == 4 + 1 + 3 + 1 + 3  # 2D convs + dense, 3D convs + dense, head
    # biases start at zero (Keras' initialiser), kernels do not
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in net.modules() if isinstance(m, torch.nn.Linear))
