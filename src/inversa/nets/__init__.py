"""Small networks and loading of shipped weights."""

from inversa.nets.denoiser import DenoiserConfig, UNetDenoiser
from inversa.nets.weights import load_denoiser, weights_path

__all__ = ["DenoiserConfig", "UNetDenoiser", "load_denoiser", "weights_path"]
