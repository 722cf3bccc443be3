"""vgf-rllib: Value Gradient Flow (Xu, Hu, Sojoudi, Zhang, ICLR 2026) as a Ray RLlib algorithm.

Importing the package registers the trainable name "VGF" with Ray Tune, so
``tune.Tuner("VGF", param_space=config)`` works in any driver that imported it.
"""

from vgf_rllib.logs import quiet_third_party_noise

quiet_third_party_noise()

from ray.tune.registry import register_trainable  # noqa: E402

from vgf_rllib import demo  # noqa: E402, F401  (registers the demo env and dataset)
from vgf_rllib.algorithm import VGF, VGFConfig  # noqa: E402

register_trainable("VGF", VGF)

__version__ = "0.1.0"
__all__ = ["VGF", "VGFConfig", "__version__"]
