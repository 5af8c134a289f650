"""The camera: Bayer CFAs, the shot/read noise model and its estimator, the ISP and its
inverse (unprocessing), quantisation, raw file and burst I/O. See ``docs/camera.md``."""

from inversa.camera.burstio import Burst, read_burst, write_dng_folder, write_npz
from inversa.camera.cfa import PATTERNS, crop_pattern, mosaic, pack, unpack
from inversa.camera.demosaic import demosaic_bilinear
from inversa.camera.isp import ISPParams, render
from inversa.camera.noise import NoiseLevels, add_noise, random_noise_levels
from inversa.camera.noise_estimate import estimate_noise_levels
from inversa.camera.quantize import normalise, quantize
from inversa.camera.rawfile import RawFrame, read_raw
from inversa.camera.unprocess import random_ccm, random_gains, unprocess

__all__ = [
    "PATTERNS",
    "Burst",
    "ISPParams",
    "NoiseLevels",
    "RawFrame",
    "add_noise",
    "crop_pattern",
    "demosaic_bilinear",
    "estimate_noise_levels",
    "mosaic",
    "normalise",
    "pack",
    "quantize",
    "random_ccm",
    "random_gains",
    "random_noise_levels",
    "read_burst",
    "read_raw",
    "render",
    "unpack",
    "unprocess",
    "write_dng_folder",
    "write_npz",
]
