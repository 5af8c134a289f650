"""The shipped map of the S/N's far tail (inversa.exo.null_tail)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from inversa.exo.null_tail import TAIL_FILE, fit_tail, load_tail


def test_gaussian_nulls_give_the_identity():
    v = np.random.default_rng(0).standard_normal(200_000)
    tail = fit_tail(v)
    s = torch.tensor([1.0, 2.0, 3.0, 3.5])
    assert torch.allclose(tail(s), s.to(tail(s).dtype), atol=0.12)


def test_heavy_tailed_nulls_are_brought_to_gaussian_rates():
    rng = np.random.default_rng(1)
    fit_on, test_on = rng.standard_t(6, 400_000), rng.standard_t(6, 400_000)
    tail = fit_tail(fit_on)
    g = tail(torch.from_numpy(test_on)).numpy()
    for t in (3.0, 4.0):
        raw = np.mean(test_on >= t) / norm.sf(t)
        fixed = np.mean(g >= t) / norm.sf(t)
        assert raw > 2.5                       # the uncorrected tail is far off ...
        assert 0.5 < fixed < 2.0, (t, fixed)   # ... the corrected one within a factor 2


def test_map_is_monotone_and_keeps_nan():
    tail = fit_tail(np.random.default_rng(2).standard_t(5, 50_000))
    s = torch.linspace(-5, 12, 400)
    g = tail(s)
    assert bool((g[1:] >= g[:-1]).all())
    out = tail(torch.tensor([math.nan, 2.0]))
    assert math.isnan(float(out[0])) and math.isfinite(float(out[1]))


def test_a_corrupted_tail_file_is_refused_in_one_line(tmp_path):
    from inversa.errors import InputError

    bad = tmp_path / "tail.json"
    bad.write_text('{"paco": {"knots": [1, 2]')
    with pytest.raises(InputError, match="not a null-tail file"):
        load_tail("paco", bad)


def test_too_few_pixels_are_refused():
    with pytest.raises(ValueError, match="null pixels"):
        fit_tail(np.zeros(100))


@pytest.mark.skipif(not TAIL_FILE.exists(), reason="no shipped tail file")
def test_paco_map_applies_the_shipped_tail(small_sim):
    from inversa.exo.paco import PacoConfig, paco_map

    sim = small_sim
    off = paco_map(sim.cube, sim.angles, sim.psf, PacoConfig(null_tail=False)).snr
    on = paco_map(sim.cube, sim.angles, sim.psf).snr
    tail = load_tail("paco")
    assert tail is not None
    ok = torch.isfinite(off)
    assert torch.allclose(on[ok], tail(off)[ok], atol=1e-5)
    assert load_tail("exo_deep") is not None

