"""``inversa synth burst`` and ``inversa isp``: outputs, metadata, and bad input -> one line,
exit status 2, nothing written."""

import json

import numpy as np
import pytest
import torch
from clirun import fails as _fails
from clirun import ok as _ok
from clirun import runner

from inversa.camera.burstio import Burst, read_burst, write_dng_folder, write_npz
from inversa.cli.main import app
from inversa.restore.imageio import read_image, write_image


@pytest.mark.parametrize("cmd", [["synth"], ["synth", "burst"], ["isp"]])
def test_help(cmd):
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0
    if cmd != ["synth"]:
        assert "Example" in res.output


def test_synth_burst_outputs(tmp_path):
    out = tmp_path / "b.npz"
    _ok(["synth", "burst", "coffee", "-o", out, "--dng-dir", tmp_path / "dng", "--frames", 4,
         "--scale", 2, "--crop", 96, "--seed", 3, "--exposures", "1,2,0.5,1"])
    b = read_burst(out)
    assert b.raw.shape == (4, 48, 48) and b.cfa == "RGGB" and b.noise is not None
    assert torch.allclose(b.relative_exposure(), torch.tensor([1, 2, 0.5, 1.0],
                                                              dtype=torch.float64))
    gt = np.load(tmp_path / "b.gt.npy")
    assert gt.shape == (96, 96, 3) and gt.dtype == np.float32
    rec = json.loads((tmp_path / "b.motions.json").read_text())
    assert rec["scale"] == 2 and len(rec["frames"]) == 4
    assert np.allclose(rec["frames"][0]["frame_to_reference"], np.eye(3))
    d = read_burst(tmp_path / "dng")
    assert torch.equal(d.raw, b.raw)  # DNG and npz hold the same numbers
    # same seed, same burst
    _ok(["synth", "burst", "coffee", "-o", tmp_path / "c.npz", "--frames", 4, "--scale", 2,
         "--crop", 96, "--seed", 3, "--exposures", "1,2,0.5,1"])
    assert torch.equal(read_burst(tmp_path / "c.npz").raw, b.raw)


def test_synth_from_file_no_noise(tmp_path):
    g = torch.Generator().manual_seed(0)
    write_image(tmp_path / "in.png", torch.rand(1, 3, 40, 48, generator=g), bits=8)
    _ok(["synth", "burst", tmp_path / "in.png", "-o", tmp_path / "b.npz", "--noise", "none",
         "--scale", 2, "--frames", 2, "--max-translation", 0, "--max-rotation", 0])
    b = read_burst(tmp_path / "b.npz")
    assert b.raw.shape == (2, 20, 24) and b.noise is None


def test_isp_renders_npz_gt_and_dng(tmp_path):
    _ok(["synth", "burst", "astronaut", "-o", tmp_path / "b.npz", "--dng-dir", tmp_path / "d",
         "--frames", 2, "--crop", 128])
    _ok(["isp", tmp_path / "b.npz", "-o", tmp_path / "ref.png"])
    _ok(["isp", tmp_path / "d", "-o", tmp_path / "ref_dng.png"])
    _ok(["isp", tmp_path / "b.gt.npy", "--meta", tmp_path / "b.npz", "-o", tmp_path / "gt.tif",
         "--bits", 16])
    a, b = read_image(tmp_path / "ref.png"), read_image(tmp_path / "ref_dng.png")
    assert a.image.shape == (1, 3, 32, 32)
    assert float((a.image - b.image).abs().max()) <= 2 / 255
    gt = read_image(tmp_path / "gt.tif")
    assert gt.bits == 16 and gt.image.shape == (1, 3, 128, 128)
    from inversa.data.images import bundled

    # the ground truth rendered with the burst's metadata is the source photo again
    assert float((gt.image - bundled("astronaut")[..., 192:320, 192:320]).abs().mean()) < 0.01
    # overrides: +1 EV is brighter, --no-tone differs
    _ok(["isp", tmp_path / "b.gt.npy", "--meta", tmp_path / "b.npz", "-o", tmp_path / "up.png",
         "--exposure", 1])
    assert read_image(tmp_path / "up.png").image.mean() > gt.image.mean() + 0.02


def test_isp_overrides_wb_ccm(tmp_path):
    np.save(tmp_path / "lin.npy", np.full((8, 8, 3), 0.1, np.float32))
    _ok(["isp", tmp_path / "lin.npy", "-o", tmp_path / "a.png", "--wb", "2,1,1", "--ccm",
         "1,0,0,0,1,0,0,0,1", "--no-tone"])
    a = read_image(tmp_path / "a.png").image
    assert a[0, 0].mean() > a[0, 1].mean() + 0.1  # red doubled


@pytest.fixture
def good_npz(tmp_path):
    p = tmp_path / "good.npz"
    write_npz(Burst(torch.rand(2, 8, 8), "RGGB"), p)
    return p


def test_synth_bad_input(tmp_path):
    _fails(["synth", "burst", tmp_path / "missing.png", "-o", tmp_path / "b.npz"], tmp_path,
           "no such file")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "b.png"], tmp_path, ".npz")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "b.npz", "--frames", 3,
            "--exposures", "1,2"], tmp_path, "2 exposures given for 3 frames")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "b.npz", "--noise", "lots"],
           tmp_path, "SHOT,READ")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "b.npz", "--cfa", "XTRANS"],
           tmp_path, "Bayer")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "b.npz", "--dng-dir",
            tmp_path / "full"], tmp_path, "not empty")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "nodir" / "b.npz"], tmp_path,
           "does not exist")
    np.save(tmp_path / "nan.npy", np.full((16, 16, 3), np.nan, np.float32))
    _fails(["synth", "burst", tmp_path / "nan.npy", "-o", tmp_path / "b.npz"], tmp_path, "NaN")


def test_isp_bad_input(tmp_path, good_npz):
    np.savez(tmp_path / "noraw.npz", cfa="RGGB")
    _fails(["isp", tmp_path / "noraw.npz", "-o", tmp_path / "o.png"], tmp_path, "'raw'")
    np.savez(tmp_path / "int.npz", raw=np.zeros((1, 4, 4), np.int16), cfa="RGGB")
    _fails(["isp", tmp_path / "int.npz", "-o", tmp_path / "o.png"], tmp_path, "dtype")
    np.savez(tmp_path / "nan.npz", raw=np.full((1, 4, 4), np.nan, np.float32), cfa="RGGB")
    _fails(["isp", tmp_path / "nan.npz", "-o", tmp_path / "o.png"], tmp_path, "NaN")
    (tmp_path / "trunc.dng").write_bytes(b"II*\x00" + b"\x00" * 20)
    _fails(["isp", tmp_path / "trunc.dng", "-o", tmp_path / "o.png"], tmp_path, "raw file")
    _fails(["isp", good_npz, "-o", tmp_path / "o.bmp"], tmp_path, "output")
    _fails(["isp", good_npz, "-o", tmp_path / "o.png", "--wb", "1,2"], tmp_path, "3 numbers")
    _fails(["isp", good_npz, "-o", tmp_path / "o.png", "--wb", "1,-2,1"], tmp_path,
           "white balance")
    np.save(tmp_path / "gray.npy", np.zeros((8, 8), np.float32))
    _fails(["isp", tmp_path / "gray.npy", "-o", tmp_path / "o.png"], tmp_path, "RGB")


def test_mixed_burst_folder_refused(tmp_path):
    g = torch.Generator().manual_seed(0)
    write_dng_folder(Burst(torch.rand(1, 32, 48, generator=g), "RGGB"), tmp_path / "a")
    write_dng_folder(Burst(torch.rand(1, 32, 48, generator=g), "BGGR"), tmp_path / "b")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (tmp_path / "a" / "frame_000.dng").rename(mixed / "f0.dng")
    (tmp_path / "b" / "frame_000.dng").rename(mixed / "f1.dng")
    _fails(["isp", mixed, "-o", tmp_path / "o.png"], tmp_path, "differs")


@pytest.mark.parametrize("channels", [1, 3])
def test_png16_roundtrip(tmp_path, channels):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, channels, 9, 7, generator=g)
    write_image(tmp_path / "a.png", x, bits=16)
    d = read_image(tmp_path / "a.png")
    assert d.bits == 16 and float((d.image - x).abs().max()) <= 0.5 / 65535 + 1e-7
