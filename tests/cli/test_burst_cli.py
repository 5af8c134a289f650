"""``inversa burst``: outputs, motions, single-frame bursts, dropped frames, bad input."""

import json

import numpy as np
import pytest
import torch
from clirun import fails as _fails
from clirun import ok as _ok
from clirun import runner

from inversa.burst.synth import SynthConfig, synthesize_burst
from inversa.camera.burstio import Burst, write_dng_folder, write_npz
from inversa.cli.main import app
from inversa.data.images import bundled
from inversa.restore.imageio import read_image


@pytest.fixture(scope="module")
def burst_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("b")
    sb = synthesize_burst(bundled("coffee")[..., 100:100 + 160, 200:200 + 160],
                          SynthConfig(scale=2, frames=5), seed=0, box=(16, 16, 128, 128))
    write_npz(sb.burst, d / "b.npz")
    np.save(d / "gt.npy", sb.gt.permute(1, 2, 0).numpy())
    return d / "b.npz"


def test_help():
    res = runner.invoke(app, ["burst", "--help"])
    assert res.exit_code == 0 and "Example" in res.output


def test_linear_and_rendered_outputs(burst_file, tmp_path):
    _ok(["burst", burst_file, "-o", tmp_path / "x.npy", "--scale", 2, "--method", "merge",
         "--save-motion", tmp_path / "m.json"])
    x = np.load(tmp_path / "x.npy")
    gt = np.load(burst_file.parent / "gt.npy")
    assert x.shape == gt.shape == (128, 128, 3) and x.dtype == np.float32
    assert np.abs(x - gt)[8:-8, 8:-8].mean() < 0.02
    rec = json.loads((tmp_path / "m.json").read_text())
    assert len(rec["frames"]) == 5 and all(f["used"] for f in rec["frames"])
    _ok(["burst", burst_file, "-o", tmp_path / "x.tiff", "--scale", 2, "--method", "merge"])
    import tifffile

    assert tifffile.imread(tmp_path / "x.tiff").dtype == np.float32
    _ok(["burst", burst_file, "-o", tmp_path / "r.tiff", "--render", "--scale", 2,
         "--method", "single"])
    assert tifffile.imread(tmp_path / "r.tiff").dtype == np.uint16
    _ok(["burst", burst_file, "-o", tmp_path / "r.png", "--scale", 1, "--method", "map",
         "--prior", "tv"])
    d = read_image(tmp_path / "r.png")
    assert d.image.shape == (1, 3, 64, 64) and d.bits == 16


def test_single_frame_burst(burst_file, tmp_path):
    _ok(["burst", burst_file, "-o", tmp_path / "a.npy", "--frames", 1, "--scale", 2,
         "--method", "map"])
    _ok(["burst", burst_file, "-o", tmp_path / "b.npy", "--method", "single", "--scale", 2])
    assert np.allclose(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_default_method_is_learned_where_weights_cover_the_scale(burst_file, tmp_path):
    res = _ok(["burst", burst_file, "-o", tmp_path / "a.npy", "--scale", 2])
    assert "(learned, x2," in " ".join(res.output.split())  # rich may wrap the line
    _fails(["burst", burst_file, "-o", tmp_path / "c.npy", "--scale", 3, "--method",
            "learned"], tmp_path, "trained for scales")


def test_ensemble_option(burst_file, tmp_path):
    """At x2 the default is the transposed-burst ensemble (--ensemble 2); 1 is one solve."""
    for name, extra in (("default", []), ("one", ["--ensemble", 1]),
                        ("two", ["--ensemble", 2]), ("four", ["--ensemble", 4])):
        _ok(["burst", burst_file, "-o", tmp_path / f"{name}.npy", "--scale", 2, "--frames", 3,
             *extra])
    gt = np.load(burst_file.parent / "gt.npy")[8:-8, 8:-8]
    default, one, two, four = (np.load(tmp_path / f"{f}.npy")[8:-8, 8:-8]
                               for f in ("default", "one", "two", "four"))
    assert np.array_equal(default, two) and not np.array_equal(default, one)
    assert four.shape == one.shape and not np.array_equal(four, one)
    assert np.abs(four - gt).mean() < 1.05 * np.abs(one - gt).mean()
    _fails(["burst", burst_file, "-o", tmp_path / "o.npy", "--ensemble", 3], tmp_path,
           "1, 2, 4 or 8")
    _fails(["burst", burst_file, "-o", tmp_path / "o.npy", "--method", "map", "--ensemble", 2],
           tmp_path, "--method learned")


def test_unrelated_frame_dropped_with_warning(burst_file, tmp_path):
    z = dict(np.load(burst_file))
    other = synthesize_burst(bundled("astronaut")[..., :128, :128],
                             SynthConfig(scale=2, frames=1), seed=1).burst.raw[0].numpy()
    z["raw"][2] = other
    np.savez(tmp_path / "bad.npz", **z)
    res = _ok(["burst", tmp_path / "bad.npz", "-o", tmp_path / "o.npy", "--scale", 2,
               "--method", "merge", "--save-motion", tmp_path / "m.json"])
    assert "warning" in res.output and "[2]" in res.output
    rec = json.loads((tmp_path / "m.json").read_text())
    assert [f["used"] for f in rec["frames"]] == [True, True, False, True, True]


def test_bad_input(burst_file, tmp_path):
    _fails(["burst", burst_file, "-o", tmp_path / "o.xyz"], tmp_path, "unknown output")
    _fails(["burst", burst_file, "-o", tmp_path / "o.png", "--scale", 5], tmp_path, "scale")
    _fails(["burst", burst_file, "-o", tmp_path / "o.png", "--method", "magic"], tmp_path,
           "method")
    _fails(["burst", burst_file, "-o", tmp_path / "o.png", "--motion", "elastic"], tmp_path,
           "motion")
    _fails(["burst", tmp_path / "missing.npz", "-o", tmp_path / "o.png"], tmp_path, "no such")
    _fails(["burst", burst_file, "-o", tmp_path / "o.png", "--linear"], tmp_path, "linear")
    g = torch.Generator().manual_seed(0)
    write_dng_folder(Burst(torch.rand(1, 32, 48, generator=g), "RGGB"), tmp_path / "a")
    write_dng_folder(Burst(torch.rand(1, 36, 48, generator=g), "RGGB"), tmp_path / "b")
    _fails(["burst", tmp_path / "a" / "frame_000.dng", tmp_path / "b" / "frame_000.dng", "-o",
            tmp_path / "o.png"], tmp_path, "size")


def test_train_burst_bad_input(tmp_path):
    _fails(["train", "burst", "-o", tmp_path / "m", "--scale", 5], tmp_path, "scales")
    _fails(["train", "burst", "-o", tmp_path / "m", "--crop", 100], tmp_path, "multiple of 8")


def test_train_hdr_confidence_bad_input(tmp_path):
    out = tmp_path / "g"
    _fails(["train", "hdr-confidence", "-o", out, "--target", "nearest"], tmp_path, "--target")
    _fails(["train", "hdr-confidence", "-o", out, "--loss", "l2"], tmp_path, "--loss")
    _fails(["train", "hdr-confidence", "-o", out, "--init", tmp_path / "none.pt"], tmp_path,
           "not found")
    _fails(["train", "hdr-confidence", "-o", out, "--object-motion", "relaxed,dense"], tmp_path,
           "--object-motion")
