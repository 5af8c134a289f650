"""Raw bursts in memory and on disk: the ``.npz`` burst format and folders of raw files.

A :class:`Burst` holds ``K`` mosaicked frames normalised to [0, 1] (frame 0 is the
reference) with the metadata needed to render them. On disk (see ``docs/formats.md``):

- ``.npz``: ``raw`` float32 (K, H, W); ``cfa`` a 4-letter Bayer pattern; optional
  ``exposure`` (K,) seconds, ``wb`` (3,), ``ccm`` (3, 3), ``noise`` (2,) = (shot, read),
  ``iso`` (K,);
- a folder (or list) of raw files, one per frame, read by :func:`read_raw` (LibRaw);
- a folder of DNG files written by :func:`write_dng_folder` (``pidng``), which LibRaw
  reads back to the same numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from inversa.atomic import atomic_folder, atomic_write, check_parent
from inversa.camera.cfa import check_pattern
from inversa.camera.isp import ISPParams
from inversa.camera.noise import NoiseLevels
from inversa.camera.quantize import quantize
from inversa.camera.rawfile import RAW_EXT, read_raw
from inversa.camera.unprocess import RGB2XYZ
from inversa.errors import InputError


@dataclass
class Burst:
    """``raw`` (K, H, W) float32 in [0, 1], frame 0 the reference; metadata optional."""

    raw: torch.Tensor
    cfa: str
    exposure: torch.Tensor | None = None  # (K,) seconds
    wb: tuple[float, float, float] | None = None
    ccm: torch.Tensor | None = None  # (3, 3) camera RGB -> linear sRGB
    noise: NoiseLevels | None = None
    iso: torch.Tensor | None = None  # (K,)
    source: str = ""
    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        src = self.source or None
        if self.raw.dim() != 3:
            raise InputError(f"raw must have shape (K, H, W), got {tuple(self.raw.shape)}",
                             source=src, field="raw")
        k, h, w = self.raw.shape
        if k < 1 or h < 2 or w < 2 or h % 2 or w % 2:
            raise InputError(f"raw frames must be at least 2x2 with even sizes, got {h}x{w} "
                             f"(K={k})", source=src, field="raw")
        if not torch.isfinite(self.raw).all():
            raise InputError("raw contains NaN or infinite values", source=src, field="raw")
        self.cfa = check_pattern(self.cfa, source=src)
        if self.exposure is not None:
            e = torch.as_tensor(self.exposure, dtype=torch.float64).reshape(-1)
            if e.numel() != k:
                raise InputError(f"{e.numel()} exposure times for {k} frames", source=src,
                                 field="exposure")
            if not torch.isfinite(e).all() or (e <= 0).any():
                raise InputError("exposure times must be finite and > 0", source=src,
                                 field="exposure")
            self.exposure = e
        if self.iso is not None:
            self.iso = torch.as_tensor(self.iso, dtype=torch.float64).reshape(-1)
            if self.iso.numel() != k:
                raise InputError(f"{self.iso.numel()} ISO values for {k} frames", source=src,
                                 field="iso")
        if self.wb is not None or self.ccm is not None:
            p = self.isp_params()  # validates wb and ccm
            self.wb = p.wb if self.wb is not None else None
        if self.ccm is not None:
            self.ccm = torch.as_tensor(self.ccm, dtype=torch.float64)

    @property
    def frames(self) -> int:
        return self.raw.shape[0]

    def relative_exposure(self) -> torch.Tensor:
        """``exposure[k] / exposure[0]`` (all ones when no exposure is known)."""
        if self.exposure is None:
            return torch.ones(self.frames, dtype=torch.float64)
        return self.exposure / self.exposure[0]

    def isp_params(self) -> ISPParams:
        """Rendering parameters from the metadata (identity where it is missing)."""
        kw: dict = {}
        if self.wb is not None:
            kw["wb"] = tuple(self.wb)
        if self.ccm is not None:
            kw["ccm"] = tuple(map(tuple, torch.as_tensor(self.ccm).tolist()))
        return ISPParams(**kw)


# -- .npz ----------------------------------------------------------------------------
def _npz_array(z, key: str, src: str, shape: tuple[int, ...] | None) -> np.ndarray | None:
    if key not in z.files:
        return None
    a = z[key]
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise InputError(f"expected numbers, got dtype {a.dtype}", source=src, field=key)
    a = a.astype(np.float64)
    if shape is not None and a.shape != shape:
        raise InputError(f"expected shape {shape}, got {a.shape}", source=src, field=key)
    if not np.all(np.isfinite(a)):
        raise InputError("contains NaN or infinite values", source=src, field=key)
    return a


def read_npz(path: str | os.PathLike) -> Burst:
    """Read an ``.npz`` burst (format in ``docs/formats.md``)."""
    src = str(path)
    try:
        z = np.load(path, allow_pickle=False)
        if not hasattr(z, "files"):
            raise InputError("not an .npz archive", source=src)
        files = set(z.files)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"cannot read .npz ({type(e).__name__}: {e})".splitlines()[0],
                         source=src) from None
    with z:
        if "raw" not in files:
            raise InputError("missing array 'raw' (K, H, W)", source=src, field="raw")
        if "cfa" not in files:
            raise InputError("missing 'cfa' (a pattern such as 'RGGB')", source=src, field="cfa")
        try:
            raw = z["raw"]
            cfa = z["cfa"]
        except Exception as e:
            raise InputError(f"corrupt archive ({type(e).__name__})", source=src) from None
        if not np.issubdtype(raw.dtype, np.floating):
            raise InputError(f"raw must be float32 normalised to [0, 1], got dtype {raw.dtype}",
                             source=src, field="raw")
        if raw.ndim != 3:
            raise InputError(f"raw must have shape (K, H, W), got {raw.shape}", source=src,
                             field="raw")
        if cfa.dtype.kind not in "US" or cfa.size != 1:
            raise InputError("cfa must be a string such as 'RGGB'", source=src, field="cfa")
        k = raw.shape[0]
        exposure = _npz_array(z, "exposure", src, (k,))
        wb = _npz_array(z, "wb", src, (3,))
        ccm = _npz_array(z, "ccm", src, (3, 3))
        noise = _npz_array(z, "noise", src, (2,))
        iso = _npz_array(z, "iso", src, (k,))
    return Burst(raw=torch.from_numpy(raw.astype(np.float32)), cfa=str(cfa.item()),
                 exposure=None if exposure is None else torch.from_numpy(exposure),
                 wb=None if wb is None else tuple(wb.tolist()),
                 ccm=None if ccm is None else torch.from_numpy(ccm),
                 noise=None if noise is None else NoiseLevels(*noise.tolist()),
                 iso=None if iso is None else torch.from_numpy(iso), source=src)


def write_npz(burst: Burst, path: str | os.PathLike) -> Path:
    """Write ``burst`` as ``.npz`` (compressed), atomically."""
    p = Path(path)
    if p.suffix.lower() != ".npz":
        raise InputError("a burst file must end in .npz", source=str(p))
    atomic_write(check_parent(p), npz_writer(burst))
    return p


def npz_writer(burst: Burst):
    """A function writing ``burst`` in the ``.npz`` format to a given path."""
    arrays: dict[str, np.ndarray] = {"raw": burst.raw.detach().cpu().numpy().astype(np.float32),
                                     "cfa": np.array(burst.cfa)}
    if burst.exposure is not None:
        arrays["exposure"] = burst.exposure.numpy().astype(np.float64)
    if burst.wb is not None:
        arrays["wb"] = np.asarray(burst.wb, dtype=np.float64)
    if burst.ccm is not None:
        arrays["ccm"] = torch.as_tensor(burst.ccm).double().numpy()
    if burst.noise is not None:
        arrays["noise"] = np.array([burst.noise.shot, burst.noise.read])
    if burst.iso is not None:
        arrays["iso"] = burst.iso.numpy().astype(np.float64)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    return write


# -- raw files -------------------------------------------------------------------------
def raw_files(folder: str | os.PathLike) -> list[Path]:
    """The raw files of a folder (known raw extensions), sorted by name."""
    d = Path(folder)
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in RAW_EXT and p.is_file())
    if not files:
        raise InputError(f"no raw file ({', '.join(sorted(RAW_EXT))}) in folder", source=str(d))
    return files


def read_raw_files(paths: Sequence[str | os.PathLike]) -> Burst:
    """A burst from raw files (frame 0 = the first file); all frames must agree."""
    if not paths:
        raise InputError("no raw file given")
    frames = [read_raw(p) for p in paths]
    ref = frames[0]
    for f in frames[1:]:
        if f.raw.shape != ref.raw.shape:
            raise InputError(f"frame size {f.raw.shape[1]}x{f.raw.shape[0]} differs from the "
                             f"first frame's {ref.raw.shape[1]}x{ref.raw.shape[0]}",
                             source=f.path)
        if f.cfa != ref.cfa:
            raise InputError(f"CFA pattern {f.cfa} differs from the first frame's {ref.cfa}",
                             source=f.path)
    exposures = [f.exposure for f in frames]
    isos = [f.iso for f in frames]
    return Burst(
        raw=torch.from_numpy(np.stack([f.raw for f in frames])), cfa=ref.cfa,
        exposure=torch.tensor(exposures) if all(e for e in exposures) else None,
        wb=ref.wb, ccm=None if ref.ccm is None else torch.from_numpy(ref.ccm),
        iso=torch.tensor(isos) if all(i for i in isos) else None,
        source=str(Path(ref.path).parent), paths=[f.path for f in frames])


def read_burst(source: str | os.PathLike | Sequence[str | os.PathLike]) -> Burst:
    """A burst from an ``.npz`` file, a folder of raw files, one raw file or a list of them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_npz(Burst(torch.rand(3, 8, 8), "RGGB"), d / "b.npz")
    >>> read_burst(d / "b.npz").raw.shape
    torch.Size([3, 8, 8])
    """
    if isinstance(source, list | tuple):
        return read_raw_files(source)
    p = Path(source)
    if not p.exists():
        raise InputError("no such file or folder", source=str(p))
    if p.is_dir():
        return read_raw_files(raw_files(p))
    if p.suffix.lower() == ".npz":
        return read_npz(p)
    if p.suffix.lower() in RAW_EXT:
        return read_raw_files([p])
    raise InputError(f"unsupported burst source {p.suffix!r}: expected a .npz file, a raw "
                     "file or a folder of raw files", source=str(p))


# -- DNG -------------------------------------------------------------------------------
def _rationals(values, den: int = 1_000_000) -> list[list[int]]:
    return [[round(float(v) * den), den] for v in values]


def _dng_bytes(dn: np.ndarray, burst: Burst, k: int, bits: int, black: float) -> bytes:
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, DNGVersion, Orientation, PhotometricInterpretation

    h, w = dn.shape
    t = DNGTags()
    t.set(Tag.ImageWidth, w)
    t.set(Tag.ImageLength, h)
    t.set(Tag.TileWidth, w)
    t.set(Tag.TileLength, h)
    t.set(Tag.Orientation, Orientation.Horizontal)
    t.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    t.set(Tag.SamplesPerPixel, 1)
    # 12-bit data are packed; other depths go in 16-bit words (pidng's 14-bit packer is
    # not reliable), the white level tells the reader the real depth
    t.set(Tag.BitsPerSample, 12 if bits == 12 else 16)
    t.set(Tag.CFARepeatPatternDim, [2, 2])
    t.set(Tag.CFAPattern, ["RGB".index(c) for c in burst.cfa])
    t.set(Tag.BlackLevelRepeatDim, [2, 2])
    t.set(Tag.BlackLevel, [round(black)] * 4)
    t.set(Tag.WhiteLevel, 2 ** bits - 1)
    if burst.ccm is not None:
        xyz2rgb = torch.linalg.inv(RGB2XYZ)
        xyz2cam = torch.linalg.inv(torch.as_tensor(burst.ccm).double()) @ xyz2rgb
        t.set(Tag.ColorMatrix1, _rationals(xyz2cam.reshape(-1).tolist(), 10_000))
        t.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    if burst.wb is not None:
        wb = np.asarray(burst.wb, dtype=np.float64)
        t.set(Tag.AsShotNeutral, _rationals(wb[1] / wb))
        t.set(Tag.BaselineExposure, _rationals([math.log2(wb[1])]))
    if burst.exposure is not None:
        t.set(Tag.ExposureTime, _rationals([float(burst.exposure[k])]))
    if burst.iso is not None:
        t.set(Tag.PhotographicSensitivity, [round(float(burst.iso[k]))])
    if burst.noise is not None:  # DNG NoiseProfile: variance = S x + O, per plane
        t.set(Tag.NoiseProfile, [burst.noise.shot, burst.noise.read])
    t.set(Tag.Make, "inversa")
    t.set(Tag.Model, "synthetic burst")
    t.set(Tag.UniqueCameraModel, "inversa synthetic burst")
    t.set(Tag.DNGVersion, DNGVersion.V1_4)
    t.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    r = RAW2DNG()
    r.options(t, path="", compress=False)
    return bytes(r.convert(dn))


def write_dng_folder(burst: Burst, folder: str | os.PathLike, bits: int = 12,
                     black: float = 64) -> Path:
    """Write each frame as ``frame_000.dng``... (uncompressed CFA DNG, ``pidng``).

    Frames are quantised to ``bits`` with the given black level; a burst that was
    quantised with the same settings (as synthetic bursts are) is stored losslessly and
    reads back identical through :func:`read_burst`. The folder must be new or empty and
    appears complete or not at all.
    """
    p = Path(folder)
    atomic_folder(p, dng_filler(burst, bits, black))
    return p


def dng_filler(burst: Burst, bits: int = 12, black: float = 64):
    """A function writing the frames of ``burst`` as DNG files into a given folder."""
    dns = [quantize(burst.raw[k], bits=bits, black=black) for k in range(burst.frames)]

    def fill(folder: Path) -> None:
        for k, dn in enumerate(dns):
            (folder / f"frame_{k:03d}.dng").write_bytes(_dng_bytes(dn, burst, k, bits, black))

    return fill
