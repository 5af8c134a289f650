import pytest

from inversa.exo.inject import Companion
from inversa.exo.simulate import SimConfig, simulate


@pytest.fixture(scope="session")
def small_sim():
    """24 frames of 64x64, two companions (bright and faint), fixed seed."""
    comps = [Companion(16.0, 30.0, 2e-4), Companion(22.0, 200.0, 8e-5)]
    return simulate(SimConfig(frames=24, size=64, subframes=4, rotation=60.0), comps, seed=7)


@pytest.fixture(scope="session")
def empty_sim():
    """The same kind of sequence without companions."""
    return simulate(SimConfig(frames=24, size=64, subframes=4, rotation=60.0), [], seed=8)
