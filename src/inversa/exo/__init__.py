"""Exoplanet detection in angular differential imaging: FITS I/O, simulator, injection,
baselines (classical ADI, PCA), PACO, S/N maps, evaluation."""
