"""The command line: help, success paths, and every bad input -> one line, exit 2, no output."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from inversa.cli.main import app
from inversa.data.images import bundled
from inversa.restore.imageio import read_image, write_image

runner = CliRunner()


@pytest.fixture
def noisy_png(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = bundled("camera")[..., 200:264, 200:264]
    p = tmp_path / "noisy.png"
    write_image(p, x + 0.05 * torch.randn(x.shape, generator=g), bits=16)
    return p


def _fails(args, tmp_path, out_name="out.png", match=None):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("inversa: error:"), res.output
    assert "Traceback" not in res.output
    if match:
        assert match in lines[0], lines[0]
    assert not (tmp_path / out_name).exists()
    assert not list(tmp_path.glob(".out*")), "temporary file left behind"


@pytest.mark.parametrize("cmd", [[], ["restore"], ["spikes"], ["train"], ["train", "denoiser"],
                                 ["train", "burst"], ["demo"]])
def test_help(cmd):
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0
    if cmd and cmd != ["train"]:
        assert "Example" in res.output


def test_restore_tv_16bit_roundtrip(noisy_png, tmp_path):
    out = tmp_path / "out.tif"
    res = runner.invoke(app, ["restore", str(noisy_png), "-o", str(out), "--prior", "tv"])
    assert res.exit_code == 0, res.output
    assert "estimated" in res.output
    d = read_image(out)
    assert d.bits == 16 and d.image.shape == (1, 1, 64, 64)


def test_restore_blur_motion(noisy_png, tmp_path):
    out = tmp_path / "out.png"
    res = runner.invoke(app, ["restore", str(noisy_png), "-o", str(out), "--prior", "wavelet",
                              "--blur", "motion:5:30", "--noise-sigma", "0.05",
                              "--iterations", "20"])
    assert res.exit_code == 0, res.output
    assert out.exists()


def test_missing_file(tmp_path):
    _fails(["restore", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out.png")], tmp_path,
           match="no such file")


def test_truncated_png(noisy_png, tmp_path):
    bad = tmp_path / "trunc.png"
    bad.write_bytes(noisy_png.read_bytes()[:200])
    _fails(["restore", str(bad), "-o", str(tmp_path / "out.png")], tmp_path,
           match="cannot read image")


def test_not_an_image(tmp_path):
    bad = tmp_path / "text.png"
    bad.write_text("hello")
    _fails(["restore", str(bad), "-o", str(tmp_path / "out.png")], tmp_path)


def test_kernel_not_2d(noisy_png, tmp_path):
    k = tmp_path / "k.npy"
    np.save(k, np.ones((3, 3, 3)))
    _fails(["restore", str(noisy_png), "-o", str(tmp_path / "out.png"), "--kernel", str(k)],
           tmp_path, match="2-D")


def test_kernel_sums_to_zero(noisy_png, tmp_path):
    k = tmp_path / "k.npy"
    np.save(k, np.array([[1.0, -1.0], [0.0, 0.0]]))
    _fails(["restore", str(noisy_png), "-o", str(tmp_path / "out.png"), "--kernel", str(k)],
           tmp_path, match="sums to 0")


def test_negative_noise(noisy_png, tmp_path):
    _fails(["restore", str(noisy_png), "-o", str(tmp_path / "out.png"), "--noise-sigma", "-1"],
           tmp_path, match="noise")


def test_nan_pixels(tmp_path):
    import tifffile

    a = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    a[3, 4] = np.nan
    p = tmp_path / "nan.tif"
    tifffile.imwrite(p, a)
    _fails(["restore", str(p), "-o", str(tmp_path / "out.png")], tmp_path, match="NaN")


def test_bad_blur_spec_and_extension(noisy_png, tmp_path):
    _fails(["restore", str(noisy_png), "-o", str(tmp_path / "out.png"), "--blur", "gauss:x"],
           tmp_path, match="--blur")
    _fails(["restore", str(noisy_png), "-o", str(tmp_path / "out.xyz")], tmp_path,
           out_name="out.xyz", match="format")


def test_spikes_cli_and_bad_inputs(tmp_path):
    from inversa.restore.examples import taylor1979

    e = taylor1979(n=120, spikes=4)
    trace = tmp_path / "trace.csv"
    np.savetxt(trace, e.trace.numpy(), header="trace at 4 ms")
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["spikes", str(trace), "-o", str(out), "--wavelet", "ricker:30",
                              "--upsample", "2"])
    assert res.exit_code == 0, res.output
    s = np.loadtxt(out)
    assert s.shape == (120,)
    # mismatched shapes: a 2-column trace; NaN samples; bad wavelet spec
    two = tmp_path / "two.csv"
    np.savetxt(two, np.ones((10, 2)), delimiter=",")
    _fails(["spikes", str(two), "-o", str(out.with_name("out2.csv")), "--wavelet", "ricker:30"],
           tmp_path, out_name="out2.csv", match="one column")
    nan = tmp_path / "nan.csv"
    nan.write_text("1\n2\nnan\n4\n")
    _fails(["spikes", str(nan), "-o", str(out.with_name("out3.csv")), "--wavelet", "ricker:30"],
           tmp_path, out_name="out3.csv", match="NaN")
    _fails(["spikes", str(trace), "-o", str(out.with_name("out4.csv")), "--wavelet", "ricker:x"],
           tmp_path, out_name="out4.csv", match="ricker")
