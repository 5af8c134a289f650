"""Raw files and bursts on disk: DNG written by pidng reads back identically through rawpy,
.npz round trip, and every kind of bad input raises one clear InputError."""

import numpy as np
import pytest
import torch

from inversa.camera.burstio import Burst, read_burst, write_dng_folder, write_npz
from inversa.camera.noise import NoiseLevels
from inversa.camera.quantize import normalise, quantize
from inversa.camera.rawfile import read_raw
from inversa.camera.unprocess import random_ccm
from inversa.errors import InputError


def make_burst(gen, k=3, h=32, w=48, cfa="GBRG", bits=12, black=64):
    x = torch.rand(k, h, w, generator=gen) * 1.1 - 0.02
    raw = torch.from_numpy(normalise(quantize(x, bits, black), black, 2 ** bits - 1))
    return Burst(raw, cfa, exposure=torch.tensor([0.01, 0.04, 0.0025][:k]),
                 wb=(2.5, 1.25, 1.9), ccm=random_ccm(gen), noise=NoiseLevels(1e-3, 1e-6),
                 iso=torch.tensor([100.0, 200.0, 100.0][:k]))


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_dng_roundtrip_identical(cfa, gen, tmp_path):
    b = make_burst(gen, cfa=cfa)
    write_dng_folder(b, tmp_path / "dng")
    files = sorted((tmp_path / "dng").iterdir())
    assert [f.name for f in files] == ["frame_000.dng", "frame_001.dng", "frame_002.dng"]
    r = read_burst(tmp_path / "dng")
    assert r.cfa == cfa
    assert torch.equal(r.raw, b.raw)  # bit-exact
    assert torch.allclose(r.exposure, b.exposure)
    assert torch.equal(r.iso, b.iso)
    assert np.allclose(r.wb, b.wb, rtol=1e-5)
    assert torch.allclose(r.ccm, b.ccm, atol=1e-3)


def test_dng_raw_values_via_rawpy(gen, tmp_path):
    import rawpy

    b = make_burst(gen, k=1, cfa="RGGB", bits=14, black=512)
    write_dng_folder(b, tmp_path / "d", bits=14, black=512)
    with rawpy.imread(str(tmp_path / "d" / "frame_000.dng")) as r:
        dn = r.raw_image_visible.copy()
        assert r.white_level == 2 ** 14 - 1
        assert list(r.black_level_per_channel) == [512] * 4
    assert np.array_equal(dn, quantize(b.raw[0], 14, 512))
    f = read_raw(tmp_path / "d" / "frame_000.dng")
    assert f.black == (512.0,) * 4 and f.exposure == pytest.approx(0.01)


def test_npz_roundtrip(gen, tmp_path):
    b = make_burst(gen)
    write_npz(b, tmp_path / "b.npz")
    r = read_burst(tmp_path / "b.npz")
    assert torch.equal(r.raw, b.raw) and r.cfa == b.cfa and r.noise == b.noise
    assert torch.equal(r.exposure, b.exposure) and r.wb == b.wb
    assert torch.equal(r.ccm, b.ccm)
    z = np.load(tmp_path / "b.npz")
    assert z["raw"].dtype == np.float32 and str(z["cfa"]) == "GBRG"


def test_npz_minimal_defaults(tmp_path):
    np.savez(tmp_path / "m.npz", raw=np.zeros((2, 4, 4), np.float32), cfa="rggb")
    b = read_burst(tmp_path / "m.npz")
    assert b.cfa == "RGGB" and b.exposure is None
    assert torch.equal(b.relative_exposure(), torch.ones(2, dtype=torch.float64))


def _bad_npz(tmp_path, **arrays):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("arrays,match", [
    ({"cfa": "RGGB"}, "missing array 'raw'"),
    ({"raw": np.zeros((2, 4, 4), np.float32)}, "missing 'cfa'"),
    ({"raw": np.zeros((2, 4, 4), np.uint16), "cfa": "RGGB"}, "dtype"),
    ({"raw": np.zeros((4, 4), np.float32), "cfa": "RGGB"}, "shape"),
    ({"raw": np.zeros((2, 5, 4), np.float32), "cfa": "RGGB"}, "even"),
    ({"raw": np.full((2, 4, 4), np.nan, np.float32), "cfa": "RGGB"}, "NaN"),
    ({"raw": np.zeros((2, 4, 4), np.float32), "cfa": "XTRANS"}, "Bayer"),
    ({"raw": np.zeros((2, 4, 4), np.float32), "cfa": "RGGB", "exposure": np.ones(3)}, "shape"),
    ({"raw": np.zeros((2, 4, 4), np.float32), "cfa": "RGGB", "exposure": np.array([1, -1.0])},
     "> 0"),
    ({"raw": np.zeros((2, 4, 4), np.float32), "cfa": "RGGB", "wb": np.ones(4)}, "shape"),
    ({"raw": np.zeros((2, 4, 4), np.float32), "cfa": "RGGB", "ccm": np.eye(2)}, "shape"),
])
def test_npz_bad(tmp_path, arrays, match):
    with pytest.raises(InputError, match=match) as e:
        read_burst(_bad_npz(tmp_path, **arrays))
    assert "bad.npz" in str(e.value)


def test_not_an_npz(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="cannot read"):
        read_burst(p)


def test_truncated_and_unreadable_raw(gen, tmp_path, capfd):
    write_dng_folder(make_burst(gen, k=1), tmp_path / "d")
    data = (tmp_path / "d" / "frame_000.dng").read_bytes()
    (tmp_path / "t.dng").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        read_burst(tmp_path / "t.dng")
    (tmp_path / "junk.nef").write_bytes(b"hello" * 50)
    with pytest.raises(InputError, match=r"junk\.nef"):
        read_burst(tmp_path / "junk.nef")
    assert capfd.readouterr().err == ""  # LibRaw's own chatter is hidden


def test_frames_must_agree(gen, tmp_path):
    write_dng_folder(make_burst(gen, k=1, cfa="RGGB"), tmp_path / "a")
    write_dng_folder(make_burst(gen, k=1, cfa="BGGR"), tmp_path / "b")
    write_dng_folder(make_burst(gen, k=1, h=36), tmp_path / "c")
    a, b, c = (tmp_path / n / "frame_000.dng" for n in "abc")
    with pytest.raises(InputError, match="CFA pattern BGGR differs"):
        read_burst([a, b])
    with pytest.raises(InputError, match="size"):
        read_burst([a, c])


def _odd_dng(path, pattern_dim, pattern, spp=1, photometric=32803):
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import DNGVersion

    h, w = 36, 36
    t = DNGTags()
    for tag, v in ((Tag.ImageWidth, w), (Tag.ImageLength, h), (Tag.TileWidth, w),
                   (Tag.TileLength, h), (Tag.PhotometricInterpretation, photometric),
                   (Tag.SamplesPerPixel, spp), (Tag.BitsPerSample, 16), (Tag.WhiteLevel, 4095)):
        t.set(tag, v)
    if pattern_dim:
        t.set(Tag.CFARepeatPatternDim, pattern_dim)
        t.set(Tag.CFAPattern, pattern)
    t.set(Tag.DNGVersion, DNGVersion.V1_4)
    r = RAW2DNG()
    r.options(t, path="", compress=False)
    path.write_bytes(bytes(r.convert(np.zeros((h, w * spp), np.uint16))))
    return path


def test_refuses_xtrans_and_linear(tmp_path):
    xt = [1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
          1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1]
    with pytest.raises(InputError, match="X-Trans"):
        read_raw(_odd_dng(tmp_path / "xt.dng", [6, 6], xt))
    with pytest.raises(InputError, match="not a Bayer sensor"):
        read_raw(_odd_dng(tmp_path / "lin.dng", None, None, spp=3, photometric=34892))


def test_missing_and_empty(tmp_path):
    with pytest.raises(InputError, match="no such"):
        read_burst(tmp_path / "nope.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no raw file"):
        read_burst(tmp_path / "empty")
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(InputError, match="unsupported"):
        read_burst(tmp_path / "x.png")


def test_dng_folder_is_all_or_nothing(gen, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        write_dng_folder(make_burst(gen), tmp_path / "full")
    bad = make_burst(gen)
    bad.cfa = "RGGB"
    bad.raw = bad.raw[:, :, :]
    bad.exposure = torch.tensor([1.0])  # corrupted after validation: fails while writing
    with pytest.raises(IndexError):
        write_dng_folder(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["full"]
