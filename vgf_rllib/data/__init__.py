"""Offline datasets: validation, loading and (for OGBench) local generation.

Importing the package registers the ``ogbench:``, ``minari:`` and ``random:`` sources
(:mod:`vgf_rllib.data.sources`); ogbench and minari themselves are imported only when such a
dataset is used.

See docs/algorithm.md, "Data", and docs/data.md.
"""

from vgf_rllib.data import minari_data, ogbench_data, random_data  # noqa: F401  (register sources)
from vgf_rllib.data.dataset import DatasetError, OfflineDataset, from_arrays, observation_statistics
from vgf_rllib.data.loading import FILE_LOADERS, build_dataset, load_dataset
from vgf_rllib.data.sources import SOURCES, DataSource, default_eval_env
from vgf_rllib.data.spaces import check_against_spaces, rescale_actions

__all__ = [
    "DatasetError",
    "FILE_LOADERS",
    "OfflineDataset",
    "SOURCES",
    "DataSource",
    "build_dataset",
    "check_against_spaces",
    "default_eval_env",
    "from_arrays",
    "load_dataset",
    "observation_statistics",
    "rescale_actions",
]
