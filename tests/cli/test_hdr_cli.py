"""``inversa synth burst --exposures/--hdr-peak/--moving-objects`` and ``inversa hdr``:
outputs in every format, weight maps, bad input (one line, exit 2, nothing written)."""

import numpy as np
import pytest
import torch
from clirun import fails as _fails
from clirun import ok as _ok

from inversa.burst.objects import LayersConfig
from inversa.camera.burstio import Burst, write_npz
from inversa.camera.hdrio import read_exr


@pytest.fixture(scope="module")
def bracketed(tmp_path_factory):
    d = tmp_path_factory.mktemp("hdr")
    _ok(["synth", "burst", "coffee", "-o", d / "b.npz", "--scale", "2", "--frames", "6",
         "--exposures", "1,4,1/4...", "--hdr-peak", "4", "--lights", "1", "--moving-objects",
         "1", "--crop", "128", "--seed", "2", "--noise", "2e-3,2e-6"])
    return d


def test_synth_writes_bracketed_burst_radiance_and_moving_mask(bracketed):
    z = np.load(bracketed / "b.npz")
    e = z["exposure"]
    assert np.allclose(e / e[0], [1, 4, 0.25, 1, 4, 0.25])
    gt = np.load(bracketed / "b.gt.npy")
    assert gt.shape == (128, 128, 3) and gt.max() > 1.5  # radiance above the white level
    mv = np.load(bracketed / "b.moving.npy")
    assert mv.shape == (128, 128) and mv.dtype == bool and 0 < mv.mean() < 1


def test_synth_still_objects_twin(bracketed, tmp_path):
    """``--still-objects``: the same seed's ground truth and mask, the frames differ."""
    _ok(["synth", "burst", "coffee", "-o", tmp_path / "s.npz", "--scale", "2", "--frames",
         "6", "--exposures", "1,4,1/4...", "--hdr-peak", "4", "--lights", "1",
         "--moving-objects", "1", "--still-objects", "--crop", "128", "--seed", "2",
         "--noise", "2e-3,2e-6"])
    assert np.allclose(np.load(tmp_path / "s.gt.npy"), np.load(bracketed / "b.gt.npy"),
                       atol=1e-4)
    assert np.array_equal(np.load(tmp_path / "s.moving.npy"),
                          np.load(bracketed / "b.moving.npy"))
    assert not np.array_equal(np.load(tmp_path / "s.npz")["raw"],
                              np.load(bracketed / "b.npz")["raw"])
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "t.npz", "--still-objects"],
           tmp_path, "--moving-objects")


@pytest.mark.parametrize("ext", [".exr", ".npy", ".tiff", ".png"])
def test_hdr_outputs(bracketed, tmp_path, ext):
    out = tmp_path / f"r{ext}"
    res = _ok(["hdr", bracketed / "b.npz", "-o", out, "--scale", "2"])
    assert "radiance up to" in res.output
    assert "(learned," in res.output  # the default where shipped weights cover the scale
    if ext == ".exr":
        a = read_exr(out)
    elif ext == ".npy":
        a = np.load(out)
    elif ext == ".tiff":
        import tifffile

        a = tifffile.imread(out)
    else:
        from inversa.restore.imageio import read_image

        a = read_image(out).image[0].permute(1, 2, 0).numpy()
        assert a.max() <= 1
    assert a.shape == (128, 128, 3) and np.isfinite(a).all()
    if ext != ".png":
        gt = np.load(bracketed / "b.gt.npy")
        rel = np.abs(a - gt).mean() / gt.mean()
        assert rel < 0.25, rel  # right units (a wrong exposure scale gives > 0.5)


def test_hdr_save_weights(bracketed, tmp_path):
    _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r.npy", "--save-weights",
         tmp_path / "w.npz", "--method", "merge"])
    w = np.load(tmp_path / "w.npz")
    assert w["confidence"].shape == (6, 64, 64) and w["saturated"].dtype == bool
    assert np.allclose(w["exposure_weight"].sum(0)[w["exposure_weight"].sum(0) > 0], 1,
                       atol=1e-5)
    _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r2.npy", "--save-weights",
         tmp_path / "w.png", "--method", "naive"])
    assert (tmp_path / "w.png").stat().st_size > 1000


def test_hdr_object_motion_saved_and_optional(bracketed, tmp_path):
    _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r.npy", "--save-weights",
         tmp_path / "w.npz", "--method", "merge"])
    w = np.load(tmp_path / "w.npz")
    assert w["object_motion"].shape == (6, 2, 64, 64)  # scale 1; the moving disc got one
    assert np.abs(w["object_motion"]).sum(1).astype(bool).any()
    _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r2.npy", "--save-weights",
         tmp_path / "w2.npz", "--method", "merge", "--no-object-motion"])
    assert "object_motion" not in np.load(tmp_path / "w2.npz")
    _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r3.npy", "--save-weights",
         tmp_path / "w3.png", "--method", "merge"])  # the figure with the motion panel
    assert (tmp_path / "w3.png").stat().st_size > 1000


def test_hdr_bad_input(bracketed, tmp_path):
    b = bracketed / "b.npz"
    _fails(["hdr", b, "-o", tmp_path / "r.npy", "--exposures", "1,2"], tmp_path,
           "2 exposure times given for 6 frames")
    _fails(["hdr", b, "-o", tmp_path / "r.npy", "--exposures", "1,2,0,1,1,1"], tmp_path,
           "exposure")
    _fails(["hdr", b, "-o", tmp_path / "r.npy", "--exposures", "1,2,-1,1,1,1"], tmp_path,
           "exposure")
    _fails(["hdr", b, "-o", tmp_path / "r.bmp"], tmp_path, "extension")
    _fails(["hdr", b, "-o", tmp_path / "r.npy", "--method", "learned", "--scale", "4"],
           tmp_path, "scales")
    _fails(["hdr", b, "-o", tmp_path / "r.npy", "--method", "magic"], tmp_path, "magic")
    _fails(["hdr", b, "-o", tmp_path / "r.npy", "--save-weights", tmp_path / "w.txt"],
           tmp_path, "--save-weights")
    write_npz(Burst(torch.rand(3, 32, 32), "RGGB"), tmp_path / "noexp.npz")
    _fails(["hdr", tmp_path / "noexp.npz", "-o", tmp_path / "r.npy"], tmp_path,
           "exposure times")
    write_npz(Burst(torch.ones(3, 32, 32), "RGGB", exposure=torch.tensor([1.0, 2, 4])),
              tmp_path / "sat.npz")
    _fails(["hdr", tmp_path / "sat.npz", "-o", tmp_path / "r.npy"], tmp_path, "saturated")
    np.savez(tmp_path / "badexp.npz", raw=np.random.rand(3, 32, 32).astype(np.float32),
             cfa=np.array("RGGB"), exposure=np.array([1.0, 2.0]))
    _fails(["hdr", tmp_path / "badexp.npz", "-o", tmp_path / "r.npy"], tmp_path, "exposure")
    _fails(["synth", "burst", "coffee", "-o", tmp_path / "x.npz", "--lights", "2"], tmp_path,
           "--hdr-peak")


def test_hdr_layers_saves_the_objects_and_refuses_merge(bracketed, tmp_path):
    """``--layers``: the moving disc found (its matte inside the moving mask), its matte,
    velocity and the layered result's weight written with the weights; with a method that
    has no layered solve, refused."""
    res = _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r.npy", "--method", "map",
               "--layers", "--save-weights", tmp_path / "w.npz"])
    assert "note: moving objects" not in res.output
    w = np.load(tmp_path / "w.npz")
    assert w["object_mattes"].shape == (1, 64, 64) and w["object_velocities"].shape == (1, 2)
    inside = w["object_mattes"][0] >= 0.5
    assert inside.sum() > 50
    # scale 1 is half the synthesized grid: the moving mask at the output's pixels
    moving = np.load(bracketed / "b.moving.npy")[::2, ::2]
    assert (inside & moving).sum() > 0.9 * inside.sum()
    # the layered result's share: at most LayersConfig.inside, most of it on the matte
    # (the guard, LayersConfig.trust, lowers it where the frames disagree with the
    # layers; measured median 0.77 of 0.8), none in the corners (the one-image result)
    lw, share = w["layer_weight"], LayersConfig().inside
    assert lw.shape == (64, 64) and lw.max() <= share + 1e-6 and lw.min() < 0.01
    assert np.median(lw[inside]) > 0.6 * share
    assert np.load(tmp_path / "r.npy").shape[:2] == (64, 64)
    _fails(["hdr", bracketed / "b.npz", "-o", tmp_path / "r2.npy", "--method", "merge",
            "--layers"], tmp_path, "layers")


def test_hdr_points_to_layers_when_objects_move(bracketed, tmp_path):
    """Without ``--layers``, a burst whose objects got a motion of their own says that
    ``--layers`` exists; without object motion it does not."""
    res = _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r.npy", "--method", "map"])
    assert "note: moving objects were found; --layers" in res.output
    res = _ok(["hdr", bracketed / "b.npz", "-o", tmp_path / "r2.npy", "--method", "map",
               "--no-object-motion"])
    assert "note: moving objects" not in res.output
