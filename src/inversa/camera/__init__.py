"""The camera: Bayer CFAs, the shot/read noise model and its estimator, the ISP and its
inverse (unprocessing), quantisation, raw file and burst I/O. See ``docs/camera.md``."""
