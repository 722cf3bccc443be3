"""Serving a trained VGF policy over HTTP with Ray Serve, the test-time budget per request.

- :mod:`~vgf_rllib.serve.requests`: the ``POST /act`` body and its validation
- :mod:`~vgf_rllib.serve.acting`: the served policy (checkpoint or ``.pt2``), seeded draws, batches
- :mod:`~vgf_rllib.serve.deployment`: the HTTP routes and dynamic batching of a replica
- :mod:`~vgf_rllib.serve.options`: deployment-wide settings
- :mod:`~vgf_rllib.serve.app`: :func:`build_app`

See docs/serving.md.
"""

from vgf_rllib.serve.app import build_app
from vgf_rllib.serve.options import ServeOptions

__all__ = ["ServeOptions", "build_app"]
