"""Offline datasets: validation, loading and (for OGBench) local generation (spec section 4)."""

from vgf_rllib.data.dataset import DatasetError, OfflineDataset, from_arrays
from vgf_rllib.data.loading import load_dataset

__all__ = ["DatasetError", "OfflineDataset", "from_arrays", "load_dataset"]
