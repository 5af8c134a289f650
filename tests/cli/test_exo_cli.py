"""``inversa exo``: simulate -> detect (every method) -> evaluate, inject, and bad input
-> one line, exit status 2, nothing written."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from clirun import fails as _fails
from clirun import ok as _ok
from clirun import runner

from inversa.cli.main import app


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("exo") / "sim"
    _ok(["exo", "simulate", "-o", d, "--frames", 16, "--size", 64, "--planets", 2,
         "--contrast", "2e-4..3e-4", "--subframes", 2, "--seed", 1, "--rotation", 60])
    return d


@pytest.mark.parametrize("cmd", [["exo"], ["exo", "simulate"], ["exo", "inject"],
                                 ["exo", "detect"], ["exo", "evaluate"], ["exo", "train"],
                                 ["exo", "null-tail"]])
def test_help(cmd):
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0
    if len(cmd) > 1:
        assert "Example" in res.output


def test_simulate_outputs(sim):
    assert sorted(p.name for p in sim.iterdir()) == ["angles.fits", "cube.fits", "psf.fits",
                                                      "truth.json"]
    truth = json.loads((sim / "truth.json").read_text())
    assert len(truth["companions"]) == 2
    assert fits.getdata(sim / "cube.fits").shape == (16, 64, 64)
    assert truth["realisation"] is None


@pytest.mark.parametrize("method", ["paco", "pca", "cadi"])
def test_detect_finds_the_simulated_companions(sim, tmp_path, method):
    out = tmp_path / "det"
    _ok(["exo", "detect", sim / "cube.fits", "--angles", sim / "angles.fits", "--psf",
         sim / "psf.fits", "--method", method, "-o", out])
    names = {p.name for p in out.iterdir()}
    assert {"snr.fits", "candidates.ecsv", "detection.png", "report.json"} <= names
    assert ("flux.fits" in names) == (method == "paco")
    assert fits.getheader(out / "snr.fits")["ORIGIN"] == "inversa exo simulate"  # header kept
    cands = Table.read(out / "candidates.ecsv")
    truth = json.loads((sim / "truth.json").read_text())["companions"]
    found = [any(np.hypot(r["x"] - t["x"], r["y"] - t["y"]) < 2 for r in cands) for t in truth]
    if method == "paco":
        assert all(found)
        for t in truth:
            r = min(cands, key=lambda r: np.hypot(r["x"] - t["x"], r["y"] - t["y"]))
            assert abs(r["flux"] - t["contrast"]) < 0.3 * t["contrast"]
    else:
        assert any(found)
    rep = json.loads((out / "report.json").read_text())
    assert rep["config"]["method"] == method and rep["seconds"]["total"] > 0


def test_multi_extension_and_inject(sim, tmp_path):
    out = tmp_path / "inj.fits"
    _ok(["exo", "inject", sim / "cube.fits", "--angles", sim / "angles.fits", "--psf",
         sim / "psf.fits", "--companion", "20,100,5e-4", "-o", out])
    before = fits.getdata(sim / "cube.fits")
    after = fits.getdata(out)
    assert after.shape == before.shape and float((after - before).sum()) > 0
    truth = json.loads((tmp_path / "inj.truth.json").read_text())
    assert truth["companions"][0]["separation"] == 20


def test_evaluate_small_campaign(sim, tmp_path):
    out = tmp_path / "eval"
    _ok(["exo", "evaluate", sim / "cube.fits", "--angles", sim / "angles.fits", "--psf",
         sim / "psf.fits", "--method", "cadi", "--contrasts", "1e-4,1e-3", "--repeats", 1,
         "--separations", "12,20", "-o", out])
    s = json.loads((out / "summary.json").read_text())
    assert s["injected"] == 4 and 0 <= s["auc"] <= 1
    assert {"roc.png", "contrast.png", "snr_hist.png", "roc.ecsv", "contrast.ecsv",
            "injections.ecsv"} <= {p.name for p in out.iterdir()}


def test_bad_input(sim, tmp_path):
    cube, ang, psf = sim / "cube.fits", sim / "angles.fits", sim / "psf.fits"
    fits.PrimaryHDU(np.zeros(5)).writeto(tmp_path / "a5.fits")
    fits.PrimaryHDU(fits.getdata(cube)[0]).writeto(tmp_path / "img.fits")
    fits.PrimaryHDU(np.full((4, 16, 16), np.nan)).writeto(tmp_path / "nan.fits")
    fits.PrimaryHDU().writeto(tmp_path / "nodata.fits")
    fits.PrimaryHDU(np.ones((99, 99))).writeto(tmp_path / "big.fits")
    fits.PrimaryHDU(np.roll(fits.getdata(psf), 5, 1)).writeto(tmp_path / "off.fits")
    out = tmp_path / "o"
    base = ["exo", "detect"]
    _fails([*base, cube, "--angles", tmp_path / "a5.fits", "--psf", psf, "-o", out], tmp_path,
           "5 angles for 16 frames")
    _fails([*base, tmp_path / "img.fits", "--angles", ang, "--psf", psf, "-o", out], tmp_path,
           "2-D image")
    _fails([*base, tmp_path / "nan.fits", "--angles", ang, "--psf", psf, "-o", out], tmp_path,
           "NaN")
    _fails([*base, tmp_path / "nodata.fits", "--angles", ang, "--psf", psf, "-o", out],
           tmp_path, "no image data")
    _fails([*base, cube, "--angles", ang, "--psf", tmp_path / "big.fits", "-o", out], tmp_path,
           "larger than the frames")
    _fails([*base, cube, "--angles", ang, "--psf", tmp_path / "off.fits", "-o", out], tmp_path,
           "not centred")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--method", "magic", "-o", out],
           tmp_path, "unknown method")
    _fails([*base, cube, "-o", out], tmp_path, "ANGLES")
    _fails(["exo", "simulate", "-o", tmp_path / "s", "--contrast", "5..1"], tmp_path,
           "--contrast")
    _fails(["exo", "simulate", "-o", tmp_path / "s", "--realisation", -1], tmp_path,
           "realisation")
    _fails(["exo", "inject", cube, "--angles", ang, "--psf", psf, "-o", tmp_path / "x.fits"],
           tmp_path, "nothing to inject")


def test_detect_paco_detrended(sim, tmp_path):
    cube, ang, psf = sim / "cube.fits", sim / "angles.fits", sim / "psf.fits"
    out = tmp_path / "det"
    _ok(["exo", "detect", cube, "--angles", ang, "--psf", psf, "--detrend", 1, "-o", out])
    assert json.loads((out / "report.json").read_text())["config"]["paco"]["detrend"] == 1
    cands = Table.read(out / "candidates.ecsv")
    truth = json.loads((sim / "truth.json").read_text())["companions"]
    assert all(any(np.hypot(r["x"] - t["x"], r["y"] - t["y"]) < 2 for r in cands) for t in truth)
    _fails(["exo", "detect", cube, "--angles", ang, "--psf", psf, "--detrend", 7, "-o",
            tmp_path / "o"], tmp_path, "--detrend")
    _fails(["exo", "detect", cube, "--angles", ang, "--psf", psf, "--detrend", 1, "--method",
            "pca", "-o", tmp_path / "o"], tmp_path, "only with --method paco")


def test_detect_paco_nonlinear_shrinkage(sim, tmp_path):
    cube, ang, psf = sim / "cube.fits", sim / "angles.fits", sim / "psf.fits"
    out = tmp_path / "det"
    _ok(["exo", "detect", cube, "--angles", ang, "--psf", psf, "--covariance", "nonlinear",
         "-o", out])
    assert json.loads((out / "report.json").read_text())["config"]["paco"]["covariance"] == \
        "nonlinear"
    cands = Table.read(out / "candidates.ecsv")
    truth = json.loads((sim / "truth.json").read_text())["companions"]
    assert all(any(np.hypot(r["x"] - t["x"], r["y"] - t["y"]) < 2 for r in cands) for t in truth)
    _fails(["exo", "detect", cube, "--angles", ang, "--psf", psf, "--covariance", "ledoit",
            "-o", tmp_path / "o"], tmp_path, "covariance")
    _fails(["exo", "detect", cube, "--angles", ang, "--psf", psf, "--covariance", "nonlinear",
            "--method", "pca", "-o", tmp_path / "o"], tmp_path, "only with --method paco")


def test_detect_deep_per_observation_and_shipped(sim, tmp_path):
    from inversa.exo.deep.model import has_detector

    base = ["exo", "detect", sim / "cube.fits", "--angles", sim / "angles.fits", "--psf",
            sim / "psf.fits", "--method", "deep"]
    out = tmp_path / "deep"
    _ok([*base, "--train-samples", 4, "--train-steps", 5, "--workdir", tmp_path / "work",
         "-o", out])
    names = {p.name for p in out.iterdir()}
    assert {"snr.fits", "pfa.fits", "flux.fits", "flux_err.fits", "candidates.ecsv"} <= names
    pfa = fits.getdata(out / "pfa.fits")
    assert np.nanmin(pfa) > 0 and np.nanmax(pfa) <= 1
    rep = json.loads((out / "report.json").read_text())
    assert rep["training"]["steps"] == 5 and rep["training"]["samples"] == 4
    assert (tmp_path / "work" / "samples.pt").exists()  # resumable
    cands = Table.read(out / "candidates.ecsv")
    truth = json.loads((sim / "truth.json").read_text())["companions"]
    assert any(np.hypot(r["x"] - t["x"], r["y"] - t["y"]) < 2 for r in cands for t in truth)
    if has_detector():
        out2 = tmp_path / "deep2"
        _ok([*base, "--model", "exo_deep", "-o", out2])
        rep2 = json.loads((out2 / "report.json").read_text())
        assert rep2["model"] == "exo_deep"
        assert rep2["candidate_flux"] == "flux network exo_flux"
        out3 = tmp_path / "deep3"  # PACO's unbiased flux for the candidates instead
        _ok([*base, "--model", "exo_deep", "--flux-model", "", "-o", out3])
        assert json.loads((out3 / "report.json").read_text())["candidate_flux"] == \
            "PACO's unbiased estimate"


def test_detect_deep_bad_input(sim, tmp_path):
    cube, ang, psf = sim / "cube.fits", sim / "angles.fits", sim / "psf.fits"
    fits.PrimaryHDU(fits.getdata(cube)[:5]).writeto(tmp_path / "short.fits")
    fits.PrimaryHDU(fits.getdata(ang)[:5]).writeto(tmp_path / "short_ang.fits")
    (tmp_path / "broken.pt").write_bytes(b"\x00" * 64)
    out = tmp_path / "o"
    base = ["exo", "detect"]
    _fails([*base, tmp_path / "short.fits", "--angles", tmp_path / "short_ang.fits", "--psf",
            psf, "--method", "deep", "-o", out], tmp_path, "at least 8")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--method", "deep", "--model",
            tmp_path / "broken.pt", "-o", out], tmp_path, "not a valid deep-detector")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--model", tmp_path / "broken.pt",
            "-o", out], tmp_path, "only with --method deep")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--method", "deep", "--flux-model",
            tmp_path / "broken.pt", "-o", out], tmp_path, "not a valid flux-model")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--flux-model", tmp_path / "broken.pt",
            "-o", out], tmp_path, "only with --method deep")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--method", "deep", "--flux-model",
            tmp_path / "none.pt", "-o", out], tmp_path, "no such flux model")
    _fails([*base, cube, "--angles", ang, "--psf", psf, "--method", "deep", "--train-steps",
            0, "-o", out], tmp_path, "--train-steps")
    _fails(["exo", "train", "-o", tmp_path / "m.txt"], tmp_path, "expected a .pt")
    _fails(["exo", "train", "-o", tmp_path / "m.pt", "--sim-angles", "reversed"], tmp_path,
           "shuffled, true, mixed")
    _fails(["exo", "train", "-o", tmp_path / "m.pt", "--covariance", "diagonal"], tmp_path,
           "linear, nonlinear, blend")
    _fails(["exo", "train", "-o", tmp_path / "m.pt", "--bound", "-1"], tmp_path, "--bound")


def test_cli_fits_saved_null_samples(tmp_path):
    import torch

    from inversa.exo.null_tail import load_tail

    rng = np.random.default_rng(3)
    samples = tmp_path / "nulls.npz"
    np.savez(samples, paco=rng.standard_t(6, 20_000), exo_deep=rng.standard_t(3, 20_000))
    out = tmp_path / "tail.json"
    _ok(["exo", "null-tail", "--samples", samples, "-o", out])
    for key in ("paco", "exo_deep"):
        tail = load_tail(key, out)
        assert tail is not None and tail.meta["pixels"] == 20_000
    assert float(load_tail("exo_deep", out)(torch.tensor([6.0]))) < \
        float(load_tail("paco", out)(torch.tensor([6.0])))      # heavier tail, lower value
    _fails(["exo", "null-tail", "--samples", samples, "-o", tmp_path / "tail.txt"], tmp_path,
           match="json")
    _fails(["exo", "null-tail", "--samples", tmp_path / "missing.npz", "-o", out], tmp_path,
           match="missing.npz")
    # another key fitted into the same file: --merge keeps the entries it does not fit
    more = tmp_path / "more.npz"
    np.savez(more, paco_nonlinear=rng.standard_t(4, 20_000))
    before = out.read_text()
    _ok(["exo", "null-tail", "--samples", more, "--merge", "-o", out])
    assert load_tail("paco_nonlinear", out) is not None
    for key in ("paco", "exo_deep"):
        assert json.loads(out.read_text())[key] == json.loads(before)[key]
    alone = tmp_path / "alone.json"
    _ok(["exo", "null-tail", "--samples", more, "-o", alone])
    assert list(json.loads(alone.read_text())) == ["paco_nonlinear"]
    # --covariance picks keys out of a file holding several (and --model '' no model's)
    picked = tmp_path / "picked.json"
    _ok(["exo", "null-tail", "--samples", samples, "--covariance", "linear", "--model", "",
         "-o", picked])
    assert list(json.loads(picked.read_text())) == ["paco"]
    _fails(["exo", "null-tail", "--samples", samples, "--covariance", "blend", "--model", "",
            "-o", picked], tmp_path, match="holds none of paco_blend")
    _fails(["exo", "null-tail", "--covariance", "ledoit", "-o", tmp_path / "t.json"], tmp_path,
           match="--covariance")
