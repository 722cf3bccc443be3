"""VGF on RLlib's new API stack: config, algorithm, learner and RLModule."""

from vgf_rllib.algorithm.algorithm import VGF
from vgf_rllib.algorithm.config import VGFConfig
from vgf_rllib.algorithm.learner import VGFTorchLearner
from vgf_rllib.algorithm.rl_module import VGFTorchRLModule

__all__ = ["VGF", "VGFConfig", "VGFTorchLearner", "VGFTorchRLModule"]
