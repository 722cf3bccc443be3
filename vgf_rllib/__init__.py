"""vgf-rllib: Value Gradient Flow (Xu, Hu, Sojoudi, Zhang, ICLR 2026) as a Ray RLlib algorithm.

Importing the package registers the trainable name "VGF" with Ray Tune, so
``tune.Tuner("VGF", param_space=config)`` works in any driver that imported it.

Without Ray installed (e.g. a GPU machine that runs ``benchmarks/throughput.py --no-rllib``), the
torch-only parts import as usual (``vgf_rllib.core``, ``vgf_rllib.data``, ``vgf_rllib.demo``);
``vgf_rllib.VGF`` and ``vgf_rllib.VGFConfig`` then raise an ImportError that says Ray is missing.
"""

from vgf_rllib.logs import quiet_third_party_noise

quiet_third_party_noise()

from vgf_rllib import demo  # noqa: E402, F401  (registers the demo env and dataset)

try:
    from ray.tune.registry import register_trainable  # noqa: E402
except ImportError as error:  # Ray is an install requirement; torch-only use works without it
    _RAY_MISSING: ImportError | None = error
else:
    _RAY_MISSING = None
    from vgf_rllib.algorithm import VGF, VGFConfig  # noqa: E402

    register_trainable("VGF", VGF)

__version__ = "0.1.0"
__all__ = ["VGF", "VGFConfig", "__version__"]


def __getattr__(name: str):
    if name in ("VGF", "VGFConfig") and _RAY_MISSING is not None:
        raise ImportError(
            f"vgf_rllib.{name} needs Ray RLlib, which cannot be imported here "
            f"({_RAY_MISSING}); install it with: pip install 'ray[rllib]'"
        )
    raise AttributeError(f"module 'vgf_rllib' has no attribute {name!r}")
