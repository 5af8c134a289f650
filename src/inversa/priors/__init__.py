"""Priors ``phi(x)`` with ``value`` and ``prox``."""

from inversa.priors.base import Prior, Zero
from inversa.priors.constraints import Box, NonNegative
from inversa.priors.l1 import L1
from inversa.priors.learned import LearnedPrior
from inversa.priors.smooth import Smoothness
from inversa.priors.tv import TotalVariation
from inversa.priors.wavelet import WaveletL1, WaveletTransform, soft

__all__ = [
           "L1",
           "Box",
           "LearnedPrior",
           "NonNegative",
           "Prior",
           "Smoothness",
           "TotalVariation",
           "WaveletL1",
           "WaveletTransform",
           "Zero",
           "soft",
]
