"""vgf-rllib: Value Gradient Flow (Xu, Hu, Sojoudi, Zhang, ICLR 2026) as a Ray RLlib algorithm.

Importing the package registers the trainable name "VGF" with Ray Tune, so
``tune.Tuner("VGF", param_space=config)`` works in any driver that imported it.
"""

from ray.tune.registry import register_trainable

from vgf_rllib import demo  # noqa: F401  (registers the demo env and dataset)
from vgf_rllib.algorithm import VGF, VGFConfig

register_trainable("VGF", VGF)

__version__ = "0.1.0"
__all__ = ["VGF", "VGFConfig", "__version__"]
