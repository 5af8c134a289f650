"""Solvers reach the minimiser of the same problem; learned wrappers train."""

import itertools

import pytest
import torch

from inversa.operators import Conv2d, Decimate, Identity, gaussian_kernel
from inversa.priors import L1, Smoothness, TotalVariation, WaveletL1
from inversa.solvers import (
    ADMM,
    FISTA,
    HQS,
    DeepEquilibrium,
    GradientDescent,
    Stop,
    Unrolled,
    conjugate_gradient,
    ista,
    normal_solver,
    objective,
)


def _problem(boundary="circular", dtype=torch.float64, n=24):
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(1, 1, n, n, dtype=dtype)
    x[..., n // 4:3 * n // 4, n // 3:2 * n // 3] = 1.0
    a = Conv2d(gaussian_kernel(1.2).to(dtype), (1, n, n), boundary=boundary)
    y = a(x) + 0.02 * torch.randn(x.shape, generator=g, dtype=dtype)
    return a, y, x


def test_smooth_gradient_descent_matches_closed_form():
    y = torch.rand(1, 1, 10, 10, dtype=torch.float64)
    prior = Smoothness()
    res = GradientDescent(Identity((1, 10, 10)), y, prior, 0.3, stop=Stop(5000, 1e-12)).run()
    torch.testing.assert_close(res.x, prior.prox(y, 0.3), atol=1e-7, rtol=0)


def test_fista_ista_admm_hqs_agree_on_tv_deblurring():
    a, y, _ = _problem(n=16)

    def tv():
        return TotalVariation(max_iter=30, tol=1e-8, warm_start=True)

    prior = tv()
    lam = 0.01
    ref = FISTA(a, y, prior, lam, stop=Stop(500, 1e-10)).run()
    f_ref = objective(a, y, prior, lam, ref.x)
    r_ista = ista(a, y, tv(), lam, stop=Stop(200, 0), history=True).run()
    hist = r_ista.history
    assert all(h2 <= h1 + 1e-6 * h1 for h1, h2 in itertools.pairwise(hist)), "ISTA monotone"
    r_admm = ADMM(a, y, tv(), lam, rho=0.05, stop=Stop(300, 1e-9)).run()
    mus = [lam * 2.0 ** (k / 4) for k in range(60)]
    r_hqs = HQS(a, y, tv(), lam, mus).run()
    for r in (r_admm, r_hqs):
        assert objective(a, y, prior, lam, r.x) <= f_ref * 1.01
        assert float((r.x - ref.x).norm() / ref.x.norm()) < 0.03
    assert objective(a, y, prior, lam, r_ista.x) <= f_ref * 1.02


def test_fista_backtracking_without_lipschitz():
    a, y, _ = _problem()
    prior = WaveletL1("haar", 2)
    fixed = FISTA(a, y, prior, 0.005, stop=Stop(400, 0)).run()
    bt = FISTA(a, y, prior, 0.005, backtracking=True, step=10.0, stop=Stop(400, 0)).run()
    assert abs(objective(a, y, prior, 0.005, bt.x) - objective(a, y, prior, 0.005, fixed.x)) \
        < 1e-3 * objective(a, y, prior, 0.005, fixed.x)


def test_l1_fista_matches_soft_threshold():
    y = torch.randn(1, 50, dtype=torch.float64)
    res = FISTA(Identity(), y, L1(), 0.5, stop=Stop(10, 0)).run()
    torch.testing.assert_close(res.x, L1().prox(y, 0.5))


@pytest.mark.parametrize("boundary", ["circular", "reflect"])
def test_normal_solver_fft_and_cg(boundary):
    a, y, _ = _problem(boundary)
    solve = normal_solver(a, cg_iter=300, cg_tol=1e-12)
    x = solve(a.adjoint(y), 0.1, None)
    torch.testing.assert_close(a.normal(x) + 0.1 * x, a.adjoint(y), atol=1e-8, rtol=0)


def test_conjugate_gradient_on_decimation():
    a = Decimate(2, (1, 8, 8))
    b = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a.normal(v) + 0.5 * v, b, max_iter=100, tol=1e-12)
    torch.testing.assert_close(a.normal(x) + 0.5 * x, b)


def test_unrolled_trains():
    torch.manual_seed(0)
    a, y, x = _problem(dtype=torch.float32)
    net = Unrolled(Smoothness(), iterations=4, mu=0.5, sigma=0.5)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    first = None
    for _ in range(40):
        loss = torch.mean((net(a, y) - x) ** 2)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.7 * first
    assert net.log_sigma.grad is not None and net.log_mu.grad is not None
    pgd = Unrolled(Smoothness(), iterations=3, algorithm="pgd")
    pgd(a, y).sum().backward()
    assert pgd.log_eta.grad is not None
    admm = Unrolled(Smoothness(), iterations=3, algorithm="admm")
    admm(a, y).sum().backward()
    assert admm.log_mu.grad is not None and admm.log_sigma.grad is not None


@pytest.mark.parametrize("mode", ["jfb", "implicit"])
def test_deep_equilibrium_fixed_point_and_gradient(mode):
    a, y, x = _problem(n=16)
    deq = DeepEquilibrium(Smoothness(), eta=1.0, sigma=0.3, max_iter=1000, tol=1e-11,
                          backward=mode, backward_iter=1000).double()
    z = deq(a, y)
    assert float((deq.step(a, y, z) - z).detach().norm() / z.detach().norm()) < 1e-6
    loss = torch.sum((z - x) ** 2)
    (g,) = torch.autograd.grad(loss, deq.log_sigma)
    # reference: differentiate through a long unrolled fixed-point iteration
    zz = a.adjoint(y)
    for _ in range(400):
        zz = deq.step(a, y, zz)
    (g_ref,) = torch.autograd.grad(torch.sum((zz - x) ** 2), deq.log_sigma)
    if mode == "implicit":
        assert abs(float(g) - float(g_ref)) < 1e-4 * abs(float(g_ref))
    else:  # JFB: a descent direction, not the exact gradient
        assert float(g) * float(g_ref) > 0
