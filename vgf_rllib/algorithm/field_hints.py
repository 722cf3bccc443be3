""""Did you mean" for unknown config field names (``VGFConfig.apply_overrides``, CLI ``--set``).

Spelling alone misleads for names other libraries use: ``learning_rate`` is closest to RLlib's
``learning_starts``, while VGF's learning rates are ``critic_lr`` and ``sampler_lr``. Those names
map to VGF's fields here; any other name gets the closest fields by spelling.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

#: names from other RL libraries and papers -> the VGF fields they mean
ALIASES: dict[str, tuple[str, ...]] = {
    "learning_rate": ("critic_lr", "sampler_lr"),
    "actor_lr": ("sampler_lr",),
    "policy_lr": ("sampler_lr",),
    "q_lr": ("critic_lr",),
    "batch_size": ("train_batch_size_per_learner",),
    "discount": ("gamma",),
    "hidden_dims": ("critic_hidden_layers", "sampler_hidden_layers"),
    "hidden_layers": ("critic_hidden_layers", "sampler_hidden_layers"),
    "num_samples": ("num_particles",),
    "eps": ("step_size",),
    "epsilon": ("step_size",),
    "flow_steps": ("train_flow_steps", "test_flow_steps", "sampler_euler_steps"),
}


def suggestions(name: str, fields: Collection[str]) -> list[str]:
    """The fields ``name`` probably means: its aliases (those that exist), else up to three
    fields closest in spelling."""
    aliases = [field for field in ALIASES.get(name, ()) if field in fields]
    return aliases or difflib.get_close_matches(name, list(fields), n=3)
