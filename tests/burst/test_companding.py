"""The companded domain of the learned HDR prior: T is odd and inverted exactly, its
slope is its derivative, and a network prior run through it keeps dark detail that the
linear-domain run loses."""

import dataclasses

import torch

from inversa.burst.companding import compand, companded_prior, expand, slope
from inversa.burst.lkr import LKRConfig, LKRNet, load_lkr, save_lkr
from inversa.burst.synth import SynthConfig, synthesize_burst


def test_compand_inverse_odd_and_slope():
    x = torch.linspace(-5, 5, 2001, dtype=torch.float64)
    for mu, peak in ((50.0, 4.0), (5000.0, 1.0), (0.5, 2.0)):
        t = compand(x, mu, peak)
        assert torch.allclose(expand(t, mu, peak), x, atol=1e-10)
        assert torch.allclose(compand(-x, mu, peak), -t)
        assert float(compand(torch.tensor(peak, dtype=torch.float64), mu, peak)) == 1.0
        xr = x.clone().requires_grad_(True)
        compand(xr, mu, peak).sum().backward()
        assert torch.allclose(xr.grad, slope(x, mu, peak), rtol=1e-8)


def test_companded_prior_passes_the_noise_map():
    """The prior sees T(z) and sigma T'(|z|): checked with a recording stand-in."""
    seen = {}

    def prior(v, smap):
        seen["v"], seen["s"] = v, smap
        return v

    z = torch.rand(1, 3, 8, 8) * 4
    out = companded_prior(prior, z, torch.tensor(0.01), 50.0, 4.0)
    assert torch.allclose(out, z, atol=1e-5)  # identity prior -> identity
    assert torch.allclose(seen["v"], compand(z, 50.0, 4.0))
    assert seen["s"].shape == (1, 1, 8, 8)
    assert torch.allclose(seen["s"], 0.01 * slope(z, 50.0, 4.0).mean(1, keepdim=True))


def test_lkr_tone_round_trip_and_runs(tmp_path):
    torch.manual_seed(0)
    net = LKRNet(LKRConfig(stages=2, width=8, blocks=1, tone=50.0))
    save_lkr(net, tmp_path / "m.pt")
    back = load_lkr(tmp_path / "m.pt")
    assert back.config.tone == 50.0
    sb = synthesize_burst(torch.rand(3, 32, 32), SynthConfig(scale=2, frames=3,
                                                             exposures=(1, 4, 0.25),
                                                             hdr_peak=4.0), seed=0)
    gain = torch.tensor([1.0, 4.0, 0.25])
    y = sb.burst.raw / gain[:, None, None]
    x = back(y, "RGGB", sb.motions, 2, sb.burst.noise, gain=gain)
    lin = dataclasses.replace(back.config, tone=0.0)
    back.config = lin
    x_lin = back(y, "RGGB", sb.motions, 2, sb.burst.noise, gain=gain)
    assert x.shape == (1, 3, 32, 32) and torch.isfinite(x).all()
    assert not torch.allclose(x, x_lin)  # the companding changes the prior step


def test_hdr_training_recipe_runs(tmp_path):
    """``inversa train hdr``'s recipe, tiny: starts from a given model, moves its prior to
    the companded domain (the recipe's default), writes weights, card and log."""
    from inversa.train.hdr import HDRTrainSpec, train_hdr
    from inversa.train.loop import TrainConfig

    torch.manual_seed(0)
    save_lkr(LKRNet(LKRConfig(stages=1, width=8, blocks=1)), tmp_path / "init.pt")
    spec = HDRTrainSpec(out=tmp_path / "m", init=str(tmp_path / "init.pt"), scales=(1,),
                        train=TrainConfig(steps=2, lr=1e-4, validate_every=2, ckpt_every=1,
                                          log_every=1),
                        crop=32, batch=1, max_frames=4)
    card = train_hdr(spec, command="test")
    assert card["architecture"]["tone"] == 200.0 and card["training"]["steps_done"] == 2
    assert load_lkr(tmp_path / "m.pt").config.tone == 200.0
    assert (tmp_path / "m.json").exists() and (tmp_path / "m.log.jsonl").exists()
