"""The shipped denoiser: loads offline, handles gray/colour/odd sizes, beats its fallback."""

import json

import pytest
import torch

from inversa.data.images import bundled
from inversa.metrics import psnr
from inversa.nets import load_denoiser, weights_path
from inversa.restore.image import RestoreConfig, restore


@pytest.fixture(scope="module")
def net():
    return load_denoiser()


def test_weights_small_with_model_card():
    p = weights_path("denoiser_unet")
    assert p.stat().st_size < 5e6
    card = json.loads(p.with_suffix(".json").read_text())
    assert card["training"]["command"].startswith("inversa train denoiser")
    assert card["metrics"]["val_psnr_sigma25"] > 30


@pytest.mark.parametrize("shape", [(1, 1, 37, 50), (2, 3, 64, 33)])
def test_shapes(net, shape):
    with torch.no_grad():
        assert net(torch.rand(shape), 0.1).shape == shape


@pytest.mark.parametrize("name,gray", [("coffee", False), ("camera", True)])
def test_beats_tv_fallback(net, name, gray, gen):
    """On a held-out crop at sigma 25/255 the learned prior beats TV by > 1 dB."""
    clean = bundled(name)[..., 100:228, 100:228]
    s = 25 / 255
    noisy = clean + s * torch.randn(clean.shape, generator=gen)
    with torch.no_grad():
        learned = restore(noisy, RestoreConfig(prior="learned", noise_sigma=s)).x
    tv = restore(noisy, RestoreConfig(prior="tv", noise_sigma=s)).x
    assert psnr(learned, clean) > psnr(tv, clean) + 1.0


def test_pnp_deblurring_beats_tv(gen):
    from inversa.operators import Conv2d, gaussian_kernel

    clean = bundled("chelsea")[..., 50:114, 150:214]
    k = gaussian_kernel(1.6)
    y = Conv2d(k, clean.shape[1:], boundary="reflect")(clean) + 0.01 * torch.randn(
        clean.shape, generator=gen)
    with torch.no_grad():
        pnp = restore(y, RestoreConfig(prior="pnp", noise_sigma=0.01, kernel=k)).x
    tv = restore(y, RestoreConfig(prior="tv", noise_sigma=0.01, kernel=k, iterations=60)).x
    assert psnr(pnp, clean) > psnr(tv, clean) + 0.5


def test_noise_map_input(net):
    """A constant noise map is the scalar level; a map that varies denoises each part at
    its own level; a map of the wrong size is refused."""
    v = bundled("coffee")[..., 100:164, 100:166].reshape(1, 3, 64, 66)
    with torch.no_grad():
        a = net(v, 0.05)
        b = net(v, torch.full((1, 1, 64, 66), 0.05))
        assert torch.allclose(a, b, atol=1e-5)
        half = torch.full((1, 1, 64, 66), 0.01)
        half[..., 33:] = 0.2
        c = net(v, half)
    # each half follows its own scalar run (exactly far from the boundary between the
    # levels; the receptive field spans about 30 pixels)
    with torch.no_grad():
        lo, hi = net(v, 0.01), net(v, 0.2)

    def gap(a, b, cols):
        return float((a[..., cols] - b[..., cols]).abs().mean())

    left, right = slice(0, 16), slice(50, 66)
    assert gap(c, lo, left) < 0.1 * gap(c, hi, left)
    assert gap(c, hi, right) < 0.1 * gap(c, lo, right)
    assert torch.allclose(c[..., :4], lo[..., :4], atol=1e-3)
    assert torch.allclose(c[..., -2:], hi[..., -2:], atol=1e-3)
    with pytest.raises(ValueError, match="noise map"):
        net(v, torch.ones(1, 1, 32, 32))


def test_training_recipe_runs_and_resumes(tmp_path):
    """``inversa train denoiser``'s recipe, tiny: weights, card and log beside the output
    stem; a second call resumes from the checkpoint and goes on to the new step count."""
    from dataclasses import replace

    from inversa.data.patches import PatchConfig
    from inversa.nets.denoiser import DenoiserConfig
    from inversa.train.denoiser import DenoiserTrainSpec, train_denoiser
    from inversa.train.loop import TrainConfig

    spec = DenoiserTrainSpec(out=tmp_path / "d", net=DenoiserConfig(width=8, blocks=1),
                             patches=PatchConfig(size=32, batch=2),
                             train=TrainConfig(steps=2, validate_every=2, ckpt_every=1,
                                               log_every=1))
    card = train_denoiser(spec, command="test")
    assert card["training"]["steps_done"] == 2 and (tmp_path / "d.pt").exists()
    assert (tmp_path / "d.ckpt").exists() and (tmp_path / "d.log.jsonl").exists()
    card = train_denoiser(replace(spec, train=replace(spec.train, steps=3)), command="test")
    assert card["training"]["steps_done"] == 3
