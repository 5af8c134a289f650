"""Batch processing of archives (observations, bursts) on a Dask cluster, resumably."""
