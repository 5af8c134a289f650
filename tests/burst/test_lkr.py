"""The learned burst reconstruction (unrolled "Lucas-Kanade reloaded"): shapes for any
number of frames, gradients through the alignment, the shipped weights against ``map``,
tiles, the training recipe."""

import json

import pytest
import torch

from inversa.burst.align import align_burst
from inversa.burst.lkr import LKRConfig, LKRNet, has_weights, load_lkr, save_lkr
from inversa.burst.reconstruct import ReconConfig, default_method, learned_weights, reconstruct
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.noise import NoiseLevels
from inversa.data.images import bundled
from inversa.errors import InputError
from inversa.metrics import psnr

MEDIUM = NoiseLevels(3e-3, 2e-5)


def _tiny() -> LKRNet:
    torch.manual_seed(0)
    return LKRNet(LKRConfig(stages=2, width=8, blocks=1))


@pytest.mark.parametrize(("k", "s"), [(1, 2), (3, 2), (4, 4)])
def test_any_number_of_frames(k, s):
    sb = synthesize_burst(torch.rand(3, 64, 64), SynthConfig(scale=s, frames=k), seed=k)
    x = _tiny()(sb.burst.raw, "RGGB", sb.motions, s, MEDIUM)
    assert x.shape == (1, 3, 64, 64)
    assert torch.isfinite(x).all()


def test_gradients_flow_through_alignment():
    """d loss / d raw reaches the input through the differentiable aligner, and the
    in-loop Gauss-Newton refinement passes gradients to the motions."""
    img = bundled("astronaut")[..., 100:196, 120:216]
    sb = synthesize_burst(img, SynthConfig(scale=2, frames=3, noise=MEDIUM), seed=0,
                          box=(8, 8, 64, 64))
    raw = sb.burst.raw.clone().requires_grad_(True)
    al = align_burst(raw)
    m = al.to_hr(2)
    assert m.requires_grad
    m.retain_grad()
    net = _tiny()
    x = net(raw, "RGGB", m, 2, MEDIUM)
    (x - sb.gt[None]).abs().mean().backward()
    assert m.grad is not None and float(m.grad[1:].abs().sum()) > 0
    assert raw.grad is not None and float(raw.grad.abs().sum()) > 0
    # the refinement itself is differentiable: its motions depend on the estimate
    x0 = sb.gt[None].clone().requires_grad_(True)
    from inversa.burst.refine import refine_motions

    mr = refine_motions(x0, sb.burst.raw, "RGGB", sb.motions + 0.2, 2, iterations=1,
                        differentiable=True)
    mr[1:, :2, 2].sum().backward()
    assert float(x0.grad.abs().sum()) > 0


def _map_and_learned(scale: int, side: int) -> tuple[float, float]:
    """PSNR of ``map`` (PnP) and of ``learned`` (the shipped weights for ``scale``) on a
    held-out 8-frame burst of a ``side`` x ``side`` crop of coffee, blind, 12-pixel border
    excluded."""
    img = bundled("coffee")[..., 80:80 + side, 200:200 + side]
    sb = synthesize_burst(img, SynthConfig(scale=scale, frames=8, noise=MEDIUM), seed=5,
                          box=(16, 16, side - 32, side - 32))
    gt = sb.gt[None][..., 12:-12, 12:-12]
    return tuple(psnr(reconstruct(sb.burst, ReconConfig(method=m, scale=scale))
                      .x[..., 12:-12, 12:-12], gt) for m in ("map", "learned"))


def test_shipped_weights_beat_map():
    """The shipped model, loaded offline, beats the classical MAP (PnP prior) on a
    held-out burst, blind (noise estimated, motions aligned)."""
    assert has_weights("burst_lkr")
    net = load_lkr()
    assert 4 in net.config.scales and 2 in net.config.scales
    p_map, p_lkr = _map_and_learned(4, 224)
    assert p_lkr > p_map, (p_lkr, p_map)


def test_x2_weights_are_what_learned_runs_at_x2_and_beat_map():
    """``burst_lkr_x2`` (``burst_lkr`` fine-tuned for x2 alone) is what ``learned`` runs
    at x2, ``burst_lkr`` stays at x4, a ``.pt`` path is taken as given; loaded offline,
    the x2 weights beat ``map`` (PnP) on a held-out x2 burst, blind."""
    assert learned_weights("burst_lkr", 2) == "burst_lkr_x2"
    assert learned_weights("burst_lkr", 4) == "burst_lkr"
    assert learned_weights("elsewhere/burst_lkr.pt", 2) == "elsewhere/burst_lkr.pt"
    assert load_lkr("burst_lkr_x2").config.scales == (2,)
    p_map, p_lkr = _map_and_learned(2, 160)
    assert p_lkr > p_map, (p_lkr, p_map)


def test_learned_scales_and_default():
    assert default_method(4) == "learned"
    assert default_method(2) == "learned"
    assert default_method(3) == "map"
    sb = synthesize_burst(torch.rand(3, 48, 48), SynthConfig(scale=3, frames=2), seed=0)
    with pytest.raises(InputError, match="trained for scales"):
        reconstruct(sb.burst, ReconConfig(method="learned", scale=3))


@pytest.mark.parametrize("flip_x, flip_y, transpose", [(False, False, True),
                                                       (True, True, False)])
def test_ensemble_member_solves_the_same_problem(flip_x, flip_y, transpose):
    """Each ensemble member solves the same problem on the transposed or mirrored burst
    (the motions conjugated by the axis swap or the mirror, the last raw row and column
    dropped so the CFA pattern is kept): brought back, it agrees with the direct result far beyond
    either's error, which it would not with the motions left as they are."""
    from inversa.burst.reconstruct import _dihedral

    img = bundled("chelsea")[..., 20:20 + 112, 60:60 + 112]
    sb = synthesize_burst(img, SynthConfig(scale=2, frames=4, noise=MEDIUM), seed=2,
                          box=(8, 8, 96, 96))
    burst, gt = sb.burst, sb.gt[None]
    net = load_lkr()
    m = align_burst(burst.raw).to_hr(2)
    with torch.no_grad():
        x = net(burst.raw, "RGGB", m, 2, MEDIUM)
        xe, wgt = _dihedral(net, burst.raw, "RGGB", m, 2, MEDIUM, None, flip_x, flip_y,
                            transpose)
    # the mirror drops the last raw row and column (47 x 47 kept, the pattern's parity)
    rows, cols = (94 if flip_y else 96), (94 if flip_x else 96)
    assert wgt.shape == (1, 1, 96, 96) and float(wgt[..., :rows, :cols].min()) == 1.0
    assert float(wgt.sum()) == rows * cols
    c = (..., slice(8, -8), slice(8, -8))
    assert psnr(xe[c], x[c]) > psnr(x[c], gt[c]) + 3
    if transpose:
        with torch.no_grad():
            wrong = net(burst.raw.transpose(-1, -2).contiguous(), "RGGB", m, 2,
                        MEDIUM).transpose(-1, -2)
        assert psnr(wrong[c], gt[c]) < psnr(xe[c], gt[c]) - 3
    else:
        with torch.no_grad():
            wrong = net(burst.raw[:, :-1, :-1].flip((-1, -2)).contiguous(), "RGGB", m, 2,
                        MEDIUM).flip((-1, -2))
        cc = (..., slice(8, 86), slice(8, 86))  # what the cropped burst covers
        assert psnr(wrong[cc], gt[cc]) < psnr(xe[cc], gt[cc]) - 3
    one = reconstruct(burst, ReconConfig(method="learned", scale=2,
                                         transpose_ensemble=False)).x
    ens = reconstruct(burst, ReconConfig(method="learned", scale=2, flip_ensemble=flip_x,
                                            transpose_ensemble=transpose)).x
    assert psnr(ens[c], gt[c]) > psnr(one[c], gt[c]) - 0.1


def test_learned_tiles_match_whole():
    img = bundled("chelsea")[..., 20:20 + 208, 60:60 + 208]
    sb = synthesize_burst(img, SynthConfig(scale=2, frames=4, noise=MEDIUM), seed=1,
                          box=(8, 8, 192, 192))
    whole = reconstruct(sb.burst, ReconConfig(method="learned", scale=2)).x
    tiled = reconstruct(sb.burst, ReconConfig(method="learned", scale=2, tile=48)).x
    gt = sb.gt[None][..., 8:-8, 8:-8]
    assert tiled.shape == whole.shape
    assert psnr(tiled[..., 8:-8, 8:-8], gt) > psnr(whole[..., 8:-8, 8:-8], gt) - 0.5


def test_train_recipe_runs_and_resumes(tmp_path):
    from inversa.train.burst import BurstTrainSpec, train_burst
    from inversa.train.loop import TrainConfig

    def spec(steps):
        return BurstTrainSpec(out=tmp_path / "m", net=LKRConfig(stages=1),
                              train=TrainConfig(steps=steps, lr=1e-4, validate_every=2,
                                                ckpt_every=1, log_every=1),
                              crop=32, batch=1, max_frames=3)

    card = train_burst(spec(1))
    assert card["training"]["steps_done"] == 1
    card = train_burst(spec(2))  # resumes from m.ckpt
    assert card["training"]["steps_done"] == 2
    log = [json.loads(v) for v in (tmp_path / "m.log.jsonl").read_text().splitlines()]
    assert [d["step"] for d in log if "loss" in d] == [1, 2]  # step 1 was not run again
    net = load_lkr(str(tmp_path / "m.pt"))
    assert net.config.stages == 1


def test_train_recipe_fine_tunes_from_weights(tmp_path):
    """``init``: the run starts from the given weights and keeps their architecture."""
    from inversa.train.burst import BurstTrainSpec, train_burst
    from inversa.train.loop import TrainConfig

    start = LKRNet(LKRConfig(stages=2, width=16, blocks=1))
    with torch.no_grad():
        start.sigma_offset.fill_(0.25)
    save_lkr(start, tmp_path / "start.pt")
    card = train_burst(BurstTrainSpec(out=tmp_path / "m", init=str(tmp_path / "start.pt"),
                                      train=TrainConfig(steps=1, lr=1e-12, validate_every=1,
                                                        ckpt_every=1, log_every=1),
                                      crop=32, batch=1, max_frames=2))
    net = load_lkr(str(tmp_path / "m.pt"))
    assert (net.config.stages, net.config.width) == (2, 16)
    assert card["architecture"]["init"] == str(tmp_path / "start.pt")
    assert torch.allclose(net.sigma_offset, torch.full((2,), 0.25), atol=1e-3)


def test_precision_factor_raises_the_level_where_samples_are_missing():
    """``local_sigma``: frames left out over a quarter of the image lower the data's
    weight there, so with ``e > 0`` the factor is above 1 there and 1 elsewhere (the
    median), bounded by ``local_sigma_max``; off, the result is the plain model's."""
    import dataclasses

    from inversa.burst.forward import BurstOperator

    sb = synthesize_burst(torch.rand(3, 64, 64), SynthConfig(scale=2, frames=4), seed=3)
    valid = torch.ones(4, 32, 32)
    valid[1:, :16, :16] = 0  # only the reference sees the top-left quarter
    net = _tiny()
    net.config = dataclasses.replace(net.config, local_sigma=0.5, local_sigma_max=1.5)
    still = torch.eye(3, dtype=torch.float64).repeat(4, 1, 1)
    still[:, 0, 2] = torch.tensor([0.0, 0.5, 1.0, 1.5])  # no shift beyond 1.5 HR pixels
    r = net.precision_factor(BurstOperator(still, (3, 64, 64), 2, "RGGB"), valid[None].float())
    assert r.shape == (1, 1, 64, 64)
    assert float(r[..., 4:28, 4:28].min()) == pytest.approx(1.5)  # capped
    assert float(r[..., 40:, 40:].max()) == pytest.approx(1.0)
    x = net(sb.burst.raw, "RGGB", sb.motions, 2, MEDIUM, valid=valid)
    net.config = dataclasses.replace(net.config, local_sigma=0.0)
    x0 = net(sb.burst.raw, "RGGB", sb.motions, 2, MEDIUM, valid=valid)
    assert not torch.allclose(x, x0)
    assert torch.equal(x0, _tiny()(sb.burst.raw, "RGGB", sb.motions, 2, MEDIUM, valid=valid))


def test_given_operator_runs_the_same_stages_on_layers():
    """``operator``: a layered scene without objects is the burst model itself, so with
    the motion refinement off the stages give the same image; with an object the network
    returns both layers; a given operator needs a start."""
    from inversa.burst.layered import LayeredBurstOperator

    sb = synthesize_burst(torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(3)),
                          SynthConfig(scale=2, frames=3, noise=MEDIUM), seed=1)
    torch.manual_seed(0)
    net = LKRNet(LKRConfig(stages=2, width=8, blocks=1, refine_from=5))
    raw, m = sb.burst.raw, sb.motions.double()
    x0 = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        plain = net(raw, "RGGB", m, 2, MEDIUM, x0=x0)
        same = net(raw, "RGGB", m, 2, MEDIUM, x0=x0,
                   operator=LayeredBurstOperator(m, [], torch.zeros(0, 32, 32), 2, "RGGB"))
        disc = torch.zeros(1, 32, 32)
        disc[0, 10:20, 10:20] = 1.0
        two = net(raw, "RGGB", m, 2, MEDIUM, x0=x0.repeat(1, 2, 1, 1),
                  operator=LayeredBurstOperator(m, [m], disc, 2, "RGGB"))
    assert torch.allclose(plain, same, atol=1e-5)
    assert two.shape == (1, 6, 32, 32) and torch.isfinite(two).all()
    with pytest.raises(ValueError, match="start"):
        net(raw, "RGGB", m, 2, MEDIUM,
            operator=LayeredBurstOperator(m, [], torch.zeros(0, 32, 32), 2, "RGGB"))
