"""The deep detector: features from PACO's terms, samples, loss, calibration, model files."""

import math

import numpy as np
import pytest
import torch

from inversa.errors import InputError
from inversa.exo.deep.calibration import ScoreCalibrator, null_angles
from inversa.exo.deep.features import CHANNELS, features, frame_terms
from inversa.exo.deep.model import DeepDetector, load_detector, save_detector
from inversa.exo.deep.samples import (
    SampleConfig,
    efficiency,
    make_sample,
    sample_angles,
    sensitivity,
)
from inversa.exo.deep.training import augment, detection_loss
from inversa.exo.paco import PacoConfig, paco_map


@pytest.fixture(scope="module")
def terms(small_sim):
    return frame_terms(small_sim.cube, small_sim.angles, small_sim.psf)


def test_frame_terms_add_up_to_paco(small_sim, terms):
    ref = paco_map(small_sim.cube, small_sim.angles, small_sim.psf, PacoConfig(calibrate=False))
    s = terms.snr()
    assert torch.equal(torch.isfinite(s), torch.isfinite(ref.snr))
    ok = torch.isfinite(s)
    assert float((s[ok] - ref.snr[ok]).abs().max()) < 1e-4
    flux, _ = terms.flux()
    assert float((flux[ok] - ref.flux[ok]).abs().max()) < 1e-6 + 1e-4 * float(ref.flux[ok].abs().max())


def test_features_are_standardised_and_see_the_companions(small_sim, terms):
    x = features(terms)
    assert x.shape == (CHANNELS, 64, 64) and bool(torch.isfinite(x).all())
    valid = x[-1] > 0
    # S/N channel: about zero median and unit spread in the field, high at the bright one
    v = x[0][valid]
    assert abs(float(v.median())) < 0.2 and 0.7 < float(v.std()) < 2.0
    cx, cy = small_sim.companions[0].xy((64, 64))
    assert float(x[0, round(cy), round(cx)]) > 5
    assert float(x[0][~valid].abs().max()) == 0.0


def test_sample_injects_where_the_target_says(small_sim, terms):
    g = torch.Generator().manual_seed(0)
    sens = sensitivity(terms)
    eff = efficiency(small_sim.cube, small_sim.angles, small_sim.psf, sens, terms, g)
    assert float(eff[torch.isfinite(sens)].min()) < 0.6  # close to the star PACO loses much
    sens = sens / eff
    x, y, comps = make_sample(small_sim.cube, small_sim.angles, small_sim.psf, sens, terms, g,
                              SampleConfig(companions=(2, 2), snr_range=(8, 10)))
    assert len(comps) == 2 and y.sum() > 0
    bg = x[0][(y == 0) & (x[-1] > 0)]
    assert float(bg.std()) < 2
    for c in comps:  # each injection stands out of the background where the target is
        cx, cy = c.xy((64, 64))
        assert y[round(cy), round(cx)] == 1
        peak = float(x[0, round(cy) - 1:round(cy) + 2, round(cx) - 1:round(cx) + 2].max())
        assert peak > float(bg.quantile(0.99))


def test_augment_gives_the_eight_symmetries():
    x = torch.arange(16.0).reshape(1, 4, 4)
    outs = {tuple(augment(x, x[0], k)[0].flatten().tolist()) for k in range(8)}
    assert len(outs) == 8


def test_loss_prefers_the_right_map():
    t = torch.zeros(1, 16, 16)
    t[0, 5:8, 5:8] = 1
    valid = torch.ones_like(t)
    good = detection_loss(20 * (2 * t - 1), t, valid)
    bad = detection_loss(20 * (1 - 2 * t), t, valid)
    assert float(good) < 0.05 < 1.0 < float(bad)


def test_calibration_false_alarm_rate_matches_nominal():
    valid = torch.ones(96, 96, dtype=torch.bool)
    # a skewed, heavy-tailed score (like logits): exponential tail beyond the body
    draw = lambda: torch.distributions.Gumbel(0.0, 1.5).sample((96, 96))  # noqa: E731
    torch.manual_seed(0)
    cal = ScoreCalibrator.fit([draw() for _ in range(4)], valid)
    fresh = torch.stack([cal.snr(draw()) for _ in range(40)])
    for thr in (2.0, 3.0):
        nominal = 0.5 * math.erfc(thr / math.sqrt(2))
        rate = float((fresh >= thr).float().mean())
        assert nominal / 2 <= rate <= 2 * nominal, (thr, rate, nominal)
    assert float(fresh.min()) > -6


def test_sample_angles_modes():
    a = torch.arange(40.0)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_angles(a, "true", g), a)
    shuffled = [sample_angles(a, "shuffled", g) for _ in range(20)]
    assert all(sorted(s.tolist()) == a.tolist() for s in shuffled)
    assert not any(torch.equal(s, a) for s in shuffled)
    kept = sum(torch.equal(sample_angles(a, "mixed", g), a) for _ in range(200))
    assert 70 < kept < 130
    with pytest.raises(ValueError, match="angles must be one of"):
        SampleConfig(angles="reversed-ish")


def test_null_angles_reverse_then_shuffle():
    a = torch.linspace(-20, 20, 10, dtype=torch.float64)
    n = null_angles(a, 3, seed=1)
    assert torch.equal(n[0], a.flip(0)) and sorted(n[2].tolist()) == sorted(a.tolist())
    assert not torch.equal(n[1], a) and not torch.equal(n[1], n[2])


def test_model_file_errors(tmp_path):
    m = DeepDetector(channels=1)
    p = tmp_path / "m.pt"
    save_detector(m, p)
    back = load_detector(p, channels=1)
    x = torch.randn(1, CHANNELS, 32, 32)
    x[:, -1] = 1
    assert torch.allclose(back(x), m.eval()(x), atol=0.05)
    with pytest.raises(InputError, match=r"plain ADI cubes.*spectral cubes with 3"):
        load_detector(p, channels=3)
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a valid deep-detector weights file"):
        load_detector(tmp_path / "bad.pt")
    with pytest.raises(InputError, match="no such model"):
        load_detector(tmp_path / "none.pt")


def test_too_few_frames_is_refused(small_sim):
    from inversa.exo.deep.detect import deep_maps

    with pytest.raises(InputError, match="at least 8"):
        deep_maps(small_sim.cube[:5], small_sim.angles[:5], small_sim.psf)
    with pytest.raises(InputError, match="4 FWHM"):
        deep_maps(small_sim.cube[:, 16:48, 16:48], small_sim.angles, small_sim.psf)


def test_calibrated_snr_of_a_source_free_cube(empty_sim):
    """Per-observation training on a cube without companions, then its S/N-equivalent:
    a bounded number of pixels above 3 (nominal rate 1.3e-3)."""
    from inversa.exo.deep.detect import DeepConfig, deep_maps
    from inversa.exo.deep.training import DeepTrainSpec
    from inversa.train.loop import TrainConfig

    spec = DeepTrainSpec(samples=6, train=TrainConfig(steps=30, lr=2e-3, ckpt_every=10**6,
                                                      log_every=10**6, validate_every=10**9))
    dm = deep_maps(empty_sim.cube, empty_sim.angles, empty_sim.psf,
                   DeepConfig(init=None, train=spec))
    v = dm.snr[torch.isfinite(dm.snr)].numpy()
    assert len(v) > 1000
    assert np.mean(v >= 3) < 10 * 1.35e-3
    assert dm.trained["steps"] == 30


@pytest.mark.skipif(not __import__("inversa.exo.deep.model", fromlist=["x"]).has_detector(),
                    reason="no shipped deep-detector weights")
def test_shipped_model_at_zero_false_alarms_on_a_small_case():
    """The shipped generic model on a cube never used in training (simulation seed 33,
    companions seed 83), each method's threshold just above its brightest off-source
    peak (no false alarm): the deep model finds two of four faint companions, PACO three.
    It does not beat PACO (issue 7 says so too); this test keeps it from falling further
    behind. Compared at equal false alarms, not at S/N 5: before the shipped null tail
    (inversa.exo.null_tail) its S/N of 7-10 on two companions looked like a win over
    PACO's, but companion-free cubes reach such values too."""
    from inversa.exo.candidates import local_maxima
    from inversa.exo.deep.detect import DeepConfig, deep_maps
    from inversa.exo.simulate import SimConfig, random_companions, simulate

    comps = random_companions(4, (1.5e-5, 1.2e-4), 64, 4.1, seed=83, min_sep=10)
    sim = simulate(SimConfig(frames=24, size=64, subframes=4, rotation=60.0), comps, seed=33)
    truths = [c.xy((64, 64)) for c in comps]
    paco = paco_map(sim.cube, sim.angles, sim.psf).snr
    deep = deep_maps(sim.cube, sim.angles, sim.psf, DeepConfig(model="exo_deep")).snr

    def found_before_a_false_alarm(snr):
        peaks = local_maxima(torch.nan_to_num(snr, nan=-1e9), -1e8, sim.fwhm)
        off = max(float(snr[y, x]) for y, x in peaks
                  if all(math.hypot(x - tx, y - ty) > 2 * sim.fwhm for tx, ty in truths))
        return sum(any(math.hypot(x - tx, y - ty) <= sim.fwhm and float(snr[y, x]) > off
                       for y, x in peaks) for tx, ty in truths)

    tp_p, tp_d = found_before_a_false_alarm(paco), found_before_a_false_alarm(deep)
    assert tp_d >= 2 and tp_d >= tp_p - 1, (tp_d, tp_p)


def test_generic_training_names_each_phase_of_its_progress(tmp_path):
    from dataclasses import replace

    from inversa.train.exo import ExoTrainSpec, train_exo, with_steps

    spec = with_steps(ExoTrainSpec(out=tmp_path / "m.pt", cubes=1, size=48, subframes=2,
                                   workdir=tmp_path / "work"), 2, 1e-3)
    spec = replace(spec, deep=replace(spec.deep, samples=1))
    seen: list = []
    train_exo(spec, progress=lambda done, total, label: seen.append((label, done, total)))
    labels = list(dict.fromkeys(s[0] for s in seen))
    assert labels == ["simulating cubes", "samples from simulated cubes", "training steps"]
    assert seen[-1] == ("training steps", 2, 2)
    counts: list = []  # a two-argument callback still gets the counts
    train_exo(replace(spec, workdir=tmp_path / "work2"),
              progress=lambda done, total: counts.append((done, total)))
    assert counts[-1] == (2, 2)


def test_the_features_statistics_travel_with_the_weights(small_sim, tmp_path):
    """The trend removal and the covariance estimate of the features' PACO statistics."""
    from dataclasses import replace

    from inversa.exo.deep.detect import DeepConfig, fit_observation
    from inversa.exo.deep.training import cached_samples
    from inversa.train.exo import ExoTrainSpec, train_exo, with_steps

    spec = with_steps(ExoTrainSpec(out=tmp_path / "m.pt", cubes=1, size=48, subframes=2,
                                   workdir=tmp_path / "work", detrend=1, covariance="blend"),
                      2, 1e-3)
    card = train_exo(replace(spec, deep=replace(spec.deep, samples=1)))
    assert card["data"]["detrend"] == 1 and card["data"]["covariance"] == "blend"
    model = load_detector(tmp_path / "m.pt")
    assert (model.detrend, model.covariance) == (1, "blend")
    shipped = load_detector("exo_deep")  # weights saved before the field: PACO's defaults
    assert (shipped.detrend, shipped.covariance) == (0, "linear")
    # detection computes the features the way the model was trained, whatever it is told
    fit = fit_observation(small_sim.cube, small_sim.angles, small_sim.psf,
                          DeepConfig(model=str(tmp_path / "m.pt"), nulls=1))
    assert (fit.config.paco.detrend, fit.config.paco.covariance) == (1, "blend")
    maps = fit.apply(small_sim.cube, small_sim.angles, small_sim.psf)
    assert (maps.paco.detrend, maps.paco.covariance) == (1, "blend")
    # samples made one way are not reused for another
    with pytest.raises(InputError, match="detrend=1,covariance=blend"):
        cached_samples(tmp_path / "work", lambda: None, key="detrend=1")
    with pytest.raises(ValueError, match="covariance"):
        DeepDetector(covariance="diagonal")


def test_deep_candidates_flux_uses_the_models_statistics(small_sim, monkeypatch):
    """The unbiased flux of the deep detector's candidates is re-estimated with the PACO
    statistics its features (and its error scale) come from, not the default ones."""
    import inversa.exo.deep.detect as deep_detect
    import inversa.exo.detect as det
    from inversa.exo.deep.detect import DeepConfig, DeepMaps
    from inversa.exo.io import Observation
    from inversa.exo.paco import PacoConfig

    h, w = small_sim.cube.shape[-2:]
    snr = torch.zeros(h, w)
    snr[20, 40] = 9.0
    model_paco = PacoConfig(calibrate=False, detrend=1, covariance="blend")
    fake = DeepMaps(snr=snr, pfa=torch.zeros(h, w), logit=snr, flux=snr, flux_err=torch.ones(h, w),
                    scale=torch.full((h, w), 2.0), fwhm=4.0, seconds={}, paco=model_paco)
    monkeypatch.setattr(deep_detect, "deep_maps", lambda *a, **k: fake)
    seen = []

    def fake_flux(cube, angles, psf, x, y, config):
        seen.append(config)
        return 1e-4, 1e-5, 10.0, 1

    monkeypatch.setattr(det, "unbiased_flux", fake_flux)
    obs = Observation(cube=small_sim.cube, angles=small_sim.angles, psf=small_sim.psf)
    out = det.detect(obs, det.DetectConfig(method="deep", deep=DeepConfig(flux_model=None)))
    assert len(out.candidates) == 1 and len(seen) == 1
    assert (seen[0].detrend, seen[0].covariance, seen[0].calibrate) == (1, "blend", False)
    assert out.candidates[0].flux_err == pytest.approx(2e-5)
    assert out.extra["candidate_flux"] == "PACO's unbiased estimate"
    # the flux network measures with PACO's plain statistics, those it was trained on,
    # and their calibration scale (here not the model's)
    import inversa.exo.deep.flux as flux
    from inversa.exo.deep.flux import FluxHead, FluxMeasure

    measured = []

    def fake_measure(cube, angles, psf, x, y, config, scale, fwhm):
        measured.append((config, scale))
        return FluxMeasure(1e-4, 1e-5 * scale, 0.5, 5e-5, 1e-5 * scale, 20.0, 10.0, fwhm)

    monkeypatch.setattr(flux, "measure", fake_measure)
    monkeypatch.setattr(det, "_flux_head", lambda name: FluxHead())
    out = det.detect(obs, det.DetectConfig(method="deep"))
    plain_scale = float(paco_map(small_sim.cube, small_sim.angles, small_sim.psf).scale[20, 40])
    assert len(measured) == 1 and measured[0][1] == pytest.approx(plain_scale)
    assert measured[0][0] == PacoConfig(calibrate=False)
    assert (out.candidates[0].flux, out.candidates[0].flux_err) == \
        pytest.approx((1e-4, 1e-5 * plain_scale))
    assert out.extra["candidate_flux"] == "flux network exo_flux"
    # a model on PACO's plain statistics lends its own scale
    fake.paco = PacoConfig(calibrate=False)
    measured.clear()
    det.detect(obs, det.DetectConfig(method="deep"))
    assert measured[0] == (PacoConfig(calibrate=False), 2.0)
    # with PACO's S/N beside the network's map, the candidate sits at PACO's peak
    where = torch.zeros(h, w)
    where[22, 41] = 6.0
    fake.paco_snr = where
    out = det.detect(obs, det.DetectConfig(method="deep"))
    c = out.candidates[0]
    assert (c.x, c.y, c.snr) == (41.0, 22.0, 9.0)


def test_a_bounded_correction_stays_within_its_bound(tmp_path):
    """``bound``: the U-Net's correction of PACO's score is ``bound tanh(U / bound)``,
    whatever the network says; it travels with the weights (older files: unbounded)."""
    m = DeepDetector(bound=3.0)
    with torch.no_grad():
        m.net.tail.bias.fill_(50.0)  # a network sure of a source everywhere
    x = torch.randn(2, CHANNELS, 32, 32)
    x[:, -1] = 1
    with torch.no_grad():
        extra = m.raw(x) - (m.alpha * x[:, 0] + m.beta)
    assert float(extra.max()) <= 3.0 + 1e-4 and float(extra.min()) > 2.9
    save_detector(m, tmp_path / "b.pt")
    assert load_detector(tmp_path / "b.pt").bound == 3.0
    assert load_detector("exo_deep").bound == 0.0
    with pytest.raises(ValueError, match="bound"):
        DeepDetector(bound=-1.0)
