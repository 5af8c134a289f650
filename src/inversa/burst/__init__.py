"""Raw bursts: random camera motion, synthetic bursts and the on-the-fly training dataset.
See ``docs/camera.md``."""

from inversa.burst.dataset import SyntheticBurstDataset
from inversa.burst.motion import MotionConfig, random_motions
from inversa.burst.synth import SynthConfig, SyntheticBurst, synthesize_burst

__all__ = [
    "MotionConfig",
    "SynthConfig",
    "SyntheticBurst",
    "SyntheticBurstDataset",
    "random_motions",
    "synthesize_burst",
]
