"""Restoration pipelines: images (denoise, deblur, super-resolve) and 1-D spike trains."""
