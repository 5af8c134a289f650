"""The layered burst forward model (background and moving objects apart)."""

import torch

from inversa.burst.forward import BurstOperator
from inversa.burst.layered import LayeredBurstOperator
from inversa.burst.motion import MotionConfig, random_motions
from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.burst.truth import coverages
from inversa.data.images import bundled


def _translations(k: int, vx: float, vy: float) -> torch.Tensor:
    m = torch.eye(3, dtype=torch.float64).repeat(k, 1, 1)
    m[:, 0, 2] = -torch.arange(k, dtype=torch.float64) * vx
    m[:, 1, 2] = -torch.arange(k, dtype=torch.float64) * vy
    return m


def test_layered_operator_adjoint(gen):
    cam = random_motions(4, (32, 32), MotionConfig(3, 2), gen)
    objs = [_translations(4, 1.3, -0.6), _translations(4, -2.2, 0.9)]
    mattes = torch.rand(2, 32, 32, generator=gen, dtype=torch.float64)
    for blur in (0.0, 0.8):
        a = LayeredBurstOperator(cam, objs, mattes, 2, "GRBG", blur=blur)
        x = torch.randn(1, 9, 32, 32, generator=gen, dtype=torch.float64)
        y = torch.randn(1, 4, 16, 16, generator=gen, dtype=torch.float64)
        lhs, rhs = (a(x) * y).sum(), (x * a.adjoint(y)).sum()
        assert abs(float(lhs - rhs)) <= 1e-9 * abs(float(lhs))


def test_layers_reduce_to_the_one_image_model(gen):
    """No object coverage: the background alone, through the camera warps; the reference
    is the mattes' blend of the layers."""
    cam = random_motions(3, (32, 32), MotionConfig(3, 2), gen)
    objs = [_translations(3, 1.0, 0.5)]
    x = torch.rand(1, 6, 32, 32, generator=gen, dtype=torch.float64)
    empty = LayeredBurstOperator(cam, objs, torch.zeros(1, 32, 32), 2, "RGGB")
    one = BurstOperator(cam, (3, 32, 32), 2, "RGGB")
    assert torch.allclose(empty(x), one(x[:, :3]), atol=1e-12)
    alpha = torch.rand(1, 32, 32, generator=gen, dtype=torch.float64)
    a = LayeredBurstOperator(torch.eye(3, dtype=torch.float64).repeat(3, 1, 1), objs, alpha,
                             2, "RGGB")
    blend = (1 - alpha) * x[0, :3] + alpha * x[0, 3:]
    assert torch.allclose(a.reference(x)[0], blend, atol=1e-12)
    # given coverages replace the warped mattes
    none = LayeredBurstOperator(cam, objs, alpha, 2, "RGGB",
                                coverages=torch.zeros(1, 3, 32, 32, dtype=torch.float64))
    assert torch.allclose(none(x), one(x[:, :3]), atol=1e-12)
    warped = LayeredBurstOperator(cam, objs, alpha, 2, "RGGB")
    same = LayeredBurstOperator(cam, objs, alpha, 2, "RGGB",
                                coverages=warped.alphas[0][:, 0][None])
    assert torch.allclose(same(x), warped(x), atol=1e-12)
    assert not torch.allclose(warped(x), one(x[:, :3]), atol=1e-6)


def test_layers_predict_a_dynamic_burst():
    """Without noise, the background of the static twin and the reference's objects,
    composited with the true mattes and motions, predict the simulator's dynamic frames;
    the one-image model cannot. (What is left is where a frame's object interior maps to
    the reference's rim, where the reference's composite is not the object's texture.)"""
    img = bundled("astronaut")[..., 100:196, 150:246]
    cfg = dict(scale=1, frames=4, noise="none", bits=None, motion=MotionConfig(3, 1))
    box = (16, 16, 64, 64)
    dyn = synthesize_burst(img, SynthConfig(moving_objects=1, **cfg), seed=2, box=box)
    static = synthesize_burst(img, SynthConfig(**cfg), seed=2, box=box)
    o = dyn.objects[0]
    mattes = torch.stack(coverages(dyn, 0)).double()
    a = LayeredBurstOperator(dyn.motions.double(), [_translations(4, o.vx, o.vy)], mattes, 1,
                             "RGGB")
    z = torch.cat([static.gt, dyn.gt]).double()[None]
    inner = (slice(1, None), slice(4, -4), slice(4, -4))  # frames 1.., away from the border
    err = (a(z)[0] - dyn.clean.double())[inner].abs()
    one = (BurstOperator(dyn.motions, (3, 64, 64), 1, "RGGB")(dyn.gt[None])[0]
           - dyn.clean)[inner].abs()
    assert float(err.mean()) < 0.15 * float(one.mean())
    assert float(err.median()) < 1e-4


def test_map_solve_takes_a_prior(gen):
    """``map_solve(prior=...)`` uses the prior it is given: ``config.prior``'s own prior
    gives the same result as the default, a much heavier one does not."""
    from inversa.burst.reconstruct import ReconConfig, make_prior, map_solve
    from inversa.camera.noise import NoiseLevels

    cam = random_motions(3, (16, 16), MotionConfig(2, 1), gen)
    a = BurstOperator(cam, (3, 16, 16), 2, "RGGB")
    x = torch.rand(1, 3, 16, 16, generator=gen, dtype=torch.float64)
    y = a(x) + 0.01 * torch.randn(1, 3, 8, 8, generator=gen, dtype=torch.float64)
    noise = NoiseLevels(1e-3, 1e-4)
    cfg = ReconConfig(method="map", scale=2, prior="tv", iterations=3, cg_iter=4)
    x0 = torch.full_like(x, 0.5)
    default = map_solve(y, a, x0, noise, cfg)
    given = map_solve(y, a, x0, noise, cfg, prior=make_prior("tv"))
    assert torch.allclose(default, given)

    class Flat:
        def prox(self, v, tau):
            return v.mean((-2, -1), keepdim=True).expand_as(v)

    flat = map_solve(y, a, x0, noise, cfg, prior=Flat())
    assert float((flat - default).abs().max()) > 1e-3


def _disc_ramp(cx: float, cy: float, rad: float, size: int = 40) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float64),
                            torch.arange(size, dtype=torch.float64), indexing="ij")
    return rad - ((xs - cx) ** 2 + (ys - cy) ** 2).sqrt()


def test_level_set_recovers_the_signed_distance_of_a_ramp_matte():
    from inversa.burst.layered import level_set

    sd = _disc_ramp(20.3, 19.6, 8.2)
    phi = level_set((sd + 0.5).clamp(0, 1))
    near = sd.abs() < 3
    assert float((phi - sd)[near].abs().mean()) < 0.05
    assert float((phi - sd)[near].abs().max()) < 0.35
    assert float(phi[sd > 3].min()) >= 0.5 and float(phi[sd < -3].max()) <= -0.5


def test_level_coverages_move_the_ramp_where_a_bilinear_warp_blurs_it():
    """The coverage of the moved disc, from the warped signed distance, against the
    bilinearly warped matte: 3 times closer to the truth at worst."""
    from inversa.burst.layered import level_coverages, level_set
    from inversa.operators.warp import Warp

    alpha = (_disc_ramp(20.3, 19.6, 8.2) + 0.5).clamp(0, 1)
    moved = (_disc_ramp(20.3 + 1.37, 19.6 - 0.61, 8.2) + 0.5).clamp(0, 1)
    m = _translations(2, 1.37, -0.61)
    cov = level_coverages([m], level_set(alpha)[None])
    assert cov.shape == (1, 2, 40, 40)
    assert torch.allclose(cov[0, 0], alpha, atol=1e-9)
    level_err = float((cov[0, 1] - moved).abs().max())
    warp_err = float((Warp(m[1:], (1, 40, 40)).forward(alpha[None, None])[0, 0] - moved).abs().max())
    assert level_err < 0.1 and warp_err > 3 * level_err


def test_operator_from_levels_uses_the_level_coverages(gen):
    from inversa.burst.layered import level_coverages, level_set

    cam = random_motions(3, (40, 40), MotionConfig(3, 2), gen)
    objs = [_translations(3, 1.37, -0.61)]
    levels = level_set((_disc_ramp(20.3, 19.6, 8.2) + 0.5).clamp(0, 1))[None]
    cover = level_coverages(objs, levels)
    a = LayeredBurstOperator.from_levels(cam, objs, levels, 2, "RGGB")
    b = LayeredBurstOperator(cam, objs, cover[:, 0], 2, "RGGB", coverages=cover)
    x = torch.rand(1, 6, 40, 40, generator=gen, dtype=torch.float64)
    assert torch.equal(a(x), b(x))
    assert torch.allclose(a.alphas[0][0, 0], (levels[0] + 0.5).clamp(0, 1))
