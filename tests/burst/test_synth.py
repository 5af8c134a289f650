"""Random motions, the synthetic burst generator and the on-the-fly dataset."""

import math

import pytest
import torch
import torch.nn.functional as F

from inversa.burst.dataset import SyntheticBurstDataset
from inversa.burst.motion import MotionConfig, homography_from_points, random_motions, rigid
from inversa.burst.synth import SynthConfig, synthesize_burst, warp_frames
from inversa.camera.cfa import mosaic
from inversa.camera.noise import NoiseLevels
from inversa.data.images import bundled
from inversa.errors import InputError

CLEAN = dict(noise="none", bits=None)


@pytest.mark.parametrize("kind", ["random", "handheld", "homography"])
def test_motion_bounds(kind, gen):
    cfg = MotionConfig(max_translation=10, max_rotation=2, kind=kind)
    m = random_motions(20, (64, 96), cfg, gen)
    assert torch.equal(m[0], torch.eye(3, dtype=torch.float64))
    # the centre of the grid moves by at most the translation (+ perspective jitter)
    c = torch.tensor([47.5, 31.5, 1.0], dtype=torch.float64)
    p = m @ c
    shift = (p[:, :2] / p[:, 2:] - c[:2]).abs().max()
    limit = 10 * (1 + (cfg.perspective if kind == "homography" else 0)) + 1e-9
    assert shift <= limit
    # any corner stays within the margin
    corners = torch.tensor([[0, 0, 1], [95, 63, 1.0]], dtype=torch.float64).T
    q = m @ corners
    disp = (q[:, :2] / q[:, 2:] - corners[:2]).abs().max()
    assert disp <= cfg.margin(64, 96)


def test_rigid_rotates_about_centre():
    m = rigid(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([90.0]), (10.0, 10.0))[0]
    p = m @ torch.tensor([11.0, 10.0, 1.0], dtype=torch.float64)
    assert torch.allclose(p[:2], torch.tensor([10.0, 11.0], dtype=torch.float64), atol=1e-12)


def test_homography_from_points(gen):
    h = torch.tensor([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [1e-4, -2e-4, 1.0]],
                     dtype=torch.float64)
    src = torch.tensor([[0, 0], [50, 0], [0, 40], [50, 40]], dtype=torch.float64)
    d = h @ torch.cat([src, torch.ones(4, 1, dtype=torch.float64)], 1).T
    dst = (d[:2] / d[2]).T
    assert torch.allclose(homography_from_points(src, dst), h, atol=1e-9)


def test_warp_convention_integer_shift(gen):
    """Frame k at high resolution is x(P_k q): a translation t shows the content at q + t."""
    x = torch.rand(3, 40, 40, generator=gen)
    m = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1)
    m[1, 0, 2], m[1, 1, 2] = 3.0, -2.0  # tx = 3 (columns), ty = -2 (rows)
    out = warp_frames(x, m, (8, 8, 16, 16))
    assert torch.allclose(out[0], x[:, 8:24, 8:24], atol=1e-4)
    assert torch.allclose(out[1], x[:, 6:22, 11:27], atol=1e-4)
    assert not torch.allclose(out[1], x[:, 10:26, 5:21], atol=1e-2)  # not the other way


def test_lr_pixel_is_block_mean_and_mosaic(gen):
    """DESIGN.md convention: low-res pixel (i, j) = mean of high-res [s i, s i + s)^2."""
    x = torch.rand(1, 3, 48, 48, generator=gen)
    cfg = SynthConfig(scale=4, frames=2, motion=MotionConfig(0, 0), **CLEAN)
    sb = synthesize_burst(x, cfg, seed=0)
    lr = F.avg_pool2d(sb.gt[None], 4)[0]
    assert torch.allclose(sb.burst.raw[0], mosaic(lr, "RGGB"), atol=1e-6)
    assert torch.allclose(sb.burst.raw[1], sb.burst.raw[0], atol=1e-6)  # no motion


def test_reproducible_and_seed_dependent():
    x = bundled("chelsea")[..., :96, :96]
    cfg = SynthConfig(scale=2, frames=4)
    a, b = synthesize_burst(x, cfg, seed=5), synthesize_burst(x, cfg, seed=5)
    c = synthesize_burst(x, cfg, seed=6)
    assert torch.equal(a.burst.raw, b.burst.raw) and torch.equal(a.motions, b.motions)
    assert not torch.equal(a.burst.raw, c.burst.raw)


def test_noise_level_in_burst(gen):
    x = torch.full((3, 64, 64), 0.5)
    lv = NoiseLevels(2e-3, 1e-4)
    sb = synthesize_burst(x, SynthConfig(scale=1, frames=8, noise=lv, bits=None,
                                         motion=MotionConfig(0, 0)), seed=0)
    clean = synthesize_burst(x, SynthConfig(scale=1, frames=1, noise="none", bits=None), seed=0)
    resid = sb.burst.raw - clean.burst.raw[0]
    expected = lv.variance(clean.burst.raw[0]).mean()
    assert abs(float(resid.var() / expected) - 1) < 0.05
    assert sb.burst.noise == lv


def test_exposure_bracket_saturates(gen):
    x = bundled("astronaut")[..., :128, :128]
    cfg = SynthConfig(scale=2, frames=3, exposures=(1.0, 8.0, 0.25), noise="none",
                      motion=MotionConfig(0, 0))
    sb = synthesize_burst(x, cfg, seed=0)
    raw = sb.burst.raw
    white = 1.0
    assert float((raw[1] >= white - 1e-6).float().mean()) > 0.2  # long exposure clips
    assert float((raw[0] >= white - 1e-6).float().mean()) < 0.01
    unclipped = raw[1] < white - 1e-3
    ratio = raw[1][unclipped & (raw[0] > 0.02)] / raw[0][unclipped & (raw[0] > 0.02)]
    assert abs(float(ratio.median()) - 8.0) < 0.2
    assert torch.allclose(sb.burst.exposure, torch.tensor([0.01, 0.08, 0.0025],
                                                          dtype=torch.float64))


def test_quantised_values_are_on_the_dn_grid():
    sb = synthesize_burst(torch.rand(3, 32, 32), SynthConfig(scale=2, frames=2, bits=10,
                                                             black=32), seed=0)
    dn = sb.burst.raw * (1023 - 32) + 32
    assert torch.allclose(dn, dn.round(), atol=1e-3)
    assert float(sb.burst.raw.min()) >= -32 / (1023 - 32) - 1e-6


@pytest.mark.parametrize("kw,match", [
    (dict(exposures=(1.0, 2.0)), "exposures"),
    (dict(scale=0), "scale"),
    (dict(cfa="RGBW"), "Bayer"),
    (dict(noise="loud"), "noise"),
])
def test_config_validation(kw, match):
    with pytest.raises(InputError, match=match):
        SynthConfig(frames=3, **kw)


def test_rejects_bad_images():
    with pytest.raises(InputError, match="NaN"):
        synthesize_burst(torch.full((3, 32, 32), float("nan")), SynthConfig(scale=2, frames=2))
    with pytest.raises(InputError, match="multiple"):
        synthesize_burst(torch.rand(3, 6, 6), SynthConfig(scale=4, frames=2))


def test_gt_matches_unprocessed_image(gen):
    from inversa.camera.isp import render

    x = bundled("coffee")[..., :96, :128]
    sb = synthesize_burst(x, SynthConfig(scale=4, frames=2), seed=0)
    back = render(sb.gt, sb.isp)
    assert float((back - x[0]).abs().mean()) < 3e-3


def test_dataset_deterministic_and_shapes():
    ds = SyntheticBurstDataset(["coffee"], crop=64, config=SynthConfig(scale=4, frames=5),
                               length=6, seed=1)
    a, b = ds[3], ds[3]
    assert a["raw"].shape == (5, 16, 16) and a["gt"].shape == (3, 64, 64)
    assert torch.equal(a["raw"], b["raw"]) and torch.equal(a["gt"], b["gt"])
    assert not torch.equal(ds[2]["gt"], a["gt"])
    assert a["motions"].shape == (5, 3, 3) and a["noise"].shape == (2,)
    with pytest.raises(IndexError):
        ds[6]
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    batch = next(iter(loader))
    assert batch["raw"].shape == (3, 5, 16, 16)


def test_dataset_small_source_is_mirrored(gen):
    ds = SyntheticBurstDataset([torch.rand(3, 40, 50, generator=gen)], crop=64,
                               config=SynthConfig(scale=2, frames=2), length=2)
    assert ds[0]["gt"].shape == (3, 64, 64)
    assert math.isfinite(float(ds[1]["raw"].sum()))
