"""VGF on RLlib's new API stack: config and algorithm (``vgf.py``), learner and RLModule."""

from vgf_rllib.algorithm.learner import VGFTorchLearner
from vgf_rllib.algorithm.rl_module import VGFTorchRLModule
from vgf_rllib.algorithm.vgf import VGF, VGFConfig

__all__ = ["VGF", "VGFConfig", "VGFTorchLearner", "VGFTorchRLModule"]
