"""ADI observations on disk: FITS cubes, parallactic angles, PSF stamps (astropy).

* cube: FITS, (T, H, W) or spectral (L, T, H, W), the first HDU holding data (or the one
  named ``CUBE``/``SCI``);
* angles: FITS (1-D data), text (``.txt``/``.csv``/``.dat``, one value per line, or
  whitespace/comma separated) or ``.npy``, in degrees;
* PSF: FITS stamp (h, w) or (L, h, w), odd or even, peak at ``(h // 2, w // 2)``, in the
  cube's flux units, or multiplied by ``psf_scale`` to get there (e.g. the ratio of
  integration times divided by a neutral-density transmission);
* or one multi-extension FITS with HDUs named ``CUBE`` (or the primary), ``ANGLES`` and
  ``PSF``.

NaN pixels are kept as NaN (the detectors mask them); frames can be screened with
:func:`frame_quality`. The cube's header travels to the outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from inversa.errors import InputError, existing_file


@dataclass
class Observation:
    """An ADI observation: cube (T, H, W) or (L, T, H, W) float32, angles (T,) float64 in
    degrees, PSF stamp (h, w) or (L, h, w), the cube's FITS header."""

    cube: torch.Tensor
    angles: torch.Tensor
    psf: torch.Tensor
    header: object | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.cube.shape[-3]

    @property
    def spectral(self) -> bool:
        return self.cube.dim() == 4


def _hdul(path: Path):
    from astropy.io import fits

    try:
        return fits.open(path, memmap=False)
    except (OSError, ValueError, TypeError) as e:
        raise InputError(f"not a readable FITS file ({e})", source=str(path)) from None


def _data_hdu(hdul, names: tuple[str, ...], path: Path):
    for h in hdul:
        if h.name.upper() in names and h.data is not None:
            return h
    for h in hdul:
        if getattr(h, "data", None) is not None and h.is_image:
            return h
    raise InputError("FITS file holds no image data", source=str(path))


def read_cube(path: str | os.PathLike) -> tuple[torch.Tensor, object]:
    """Cube (T, H, W) or (L, T, H, W) float32 and its header."""
    p = existing_file(path, "a FITS cube")
    with _hdul(p) as hdul:
        hdu = _data_hdu(hdul, ("CUBE", "SCI", "PRIMARY"), p)
        data = np.asarray(hdu.data, dtype=np.float32)
        header = hdu.header.copy()
    check_cube(data, str(p))
    return torch.from_numpy(data.copy()), header


def check_cube(data: np.ndarray, source: str = "cube") -> None:
    if data.ndim == 2:
        raise InputError("a 2-D image was given as a cube; expected (T, H, W) or "
                         "(L, T, H, W) frames", source=source)
    if data.ndim not in (3, 4):
        raise InputError(f"expected a cube (T, H, W) or (L, T, H, W), got {data.ndim} "
                         "dimensions", source=source)
    if data.size == 0:
        raise InputError("the cube is empty", source=source)
    if not np.isfinite(data).any():
        raise InputError("the cube holds no finite pixel (all NaN)", source=source)
    if data.shape[-3] < 2:
        raise InputError("ADI needs at least 2 frames", source=source)


def read_angles(path: str | os.PathLike) -> torch.Tensor:
    """Parallactic angles (T,) in degrees from FITS, ``.npy`` or text."""
    p = existing_file(path, "an angles file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".fits", ".fit", ".fts"):
            with _hdul(p) as hdul:
                hdu = _data_hdu(hdul, ("ANGLES", "PARANG", "PRIMARY"), p)
                a = np.asarray(hdu.data, dtype=np.float64)
        elif suffix == ".npy":
            a = np.load(p, allow_pickle=False).astype(np.float64)
        else:
            text = p.read_text().replace(",", " ")
            a = np.array([float(v) for v in text.split()], dtype=np.float64)
    except (ValueError, OSError) as e:
        raise InputError(f"cannot read angles ({e})", source=str(p)) from None
    a = np.squeeze(a)
    if a.ndim != 1 or a.size == 0:
        raise InputError(f"expected a list of angles, got shape {a.shape}", source=str(p))
    if not np.isfinite(a).all():
        raise InputError("angles must be finite", source=str(p))
    return torch.from_numpy(a.copy())


def read_psf(path: str | os.PathLike, scale: float = 1.0) -> tuple[torch.Tensor, object]:
    """PSF stamp (h, w) or (L, h, w) times ``scale``, and its header."""
    p = existing_file(path, "a FITS PSF")
    with _hdul(p) as hdul:
        hdu = _data_hdu(hdul, ("PSF", "PRIMARY"), p)
        data = np.asarray(hdu.data, dtype=np.float32)
        header = hdu.header.copy()
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim not in (2, 3):
        raise InputError(f"expected a PSF stamp (h, w) or (L, h, w), got shape {data.shape}",
                         source=str(p))
    if scale <= 0:
        raise InputError("the PSF scale must be positive", field="--psf-scale")
    return torch.from_numpy(np.nan_to_num(data) * np.float32(scale)), header


def read_observation(cube: str | os.PathLike, angles: str | os.PathLike | None = None,
                     psf: str | os.PathLike | None = None, psf_scale: float = 1.0
                     ) -> Observation:
    """Read an observation from three files, or from one multi-extension FITS (``cube``
    with extensions ``ANGLES`` and ``PSF``) when ``angles``/``psf`` are omitted."""
    from inversa.exo.psf import check_psf

    cpath = existing_file(cube, "a FITS cube")
    data, header = read_cube(cpath)
    if angles is None or psf is None:
        with _hdul(cpath) as hdul:
            names = {h.name.upper(): h for h in hdul}
            if angles is None:
                if "ANGLES" not in names or names["ANGLES"].data is None:
                    raise InputError("no --angles given and no ANGLES extension",
                                     source=str(cpath))
                ang = torch.from_numpy(np.asarray(names["ANGLES"].data, np.float64).ravel())
            if psf is None:
                if "PSF" not in names or names["PSF"].data is None:
                    raise InputError("no --psf given and no PSF extension", source=str(cpath))
                stamp = torch.from_numpy(np.nan_to_num(np.asarray(names["PSF"].data,
                                                                  np.float32)) * psf_scale)
    if angles is not None:
        ang = read_angles(angles)
    if psf is not None:
        stamp, _ = read_psf(psf, psf_scale)
    t = data.shape[-3]
    if ang.numel() != t:
        raise InputError(f"{ang.numel()} angles for {t} frames", source=str(angles or cpath))
    if data.dim() == 4 and stamp.dim() == 3 and stamp.shape[0] != data.shape[0]:
        raise InputError(f"{stamp.shape[0]} PSF stamps for {data.shape[0]} channels",
                         source=str(psf or cpath))
    check_psf(stamp, tuple(data.shape[-2:]), source=str(psf or cpath))
    return Observation(cube=data, angles=ang, psf=stamp, header=header, source=str(cpath))


def frame_quality(cube: torch.Tensor, k: float = 5.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame score (correlation with the median frame, NaNs ignored) and a mask of poor
    frames: score below ``median - k * 1.4826 MAD``."""
    c = cube if cube.dim() == 3 else cube.mean(0)
    t = c.shape[0]
    flat = torch.nan_to_num(c.reshape(t, -1).to(torch.float64))
    med = flat.median(0).values
    x = flat - flat.mean(1, keepdim=True)
    y = med - med.mean()
    score = (x @ y) / (x.norm(dim=1) * y.norm()).clamp_min(1e-30)
    mad = (score - score.median()).abs().median()
    bad = score < score.median() - k * 1.4826 * max(float(mad), 1e-6)
    return score, bad


def fits_writer(data: np.ndarray | torch.Tensor, header: object | None = None,
                **cards: object):
    """A ``write(path)`` callable for :class:`inversa.atomic.Staged`: one FITS image with
    ``header``'s cards (where valid) plus ``cards``."""
    from astropy.io import fits

    arr = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)

    def write(path: Path) -> None:
        hdr = fits.Header()
        if header is not None:
            for card in header.cards:
                if card.keyword in ("SIMPLE", "BITPIX", "EXTEND", "BSCALE", "BZERO") \
                        or card.keyword.startswith("NAXIS"):
                    continue
                try:
                    hdr.append(card)
                except (ValueError, KeyError):
                    continue
        for key, value in cards.items():
            hdr[key[:8].upper()] = value
        fits.PrimaryHDU(arr.astype(np.float32), header=hdr).writeto(path, overwrite=True)

    return write


def observation_writer(obs: Observation):
    """A ``write(path)`` callable for a multi-extension FITS (CUBE, ANGLES, PSF)."""
    from astropy.io import fits

    def write(path: Path) -> None:
        prim = fits.PrimaryHDU()
        cube = fits.ImageHDU(obs.cube.numpy().astype(np.float32), name="CUBE")
        ang = fits.ImageHDU(obs.angles.numpy().astype(np.float64), name="ANGLES")
        psf = fits.ImageHDU(obs.psf.numpy().astype(np.float32), name="PSF")
        fits.HDUList([prim, cube, ang, psf]).writeto(path, overwrite=True)

    return write
