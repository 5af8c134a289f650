"""Raw bursts: random camera motion, synthetic bursts, and (later) alignment and
reconstruction. See ``docs/camera.md``."""
