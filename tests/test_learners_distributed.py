"""Data-parallel learners (RLlib ``num_learners=2``: remote learners, torch DDP over gloo on the
CPU) against one learner, and checkpoints across learner counts (docs/algorithm.md, "How it maps
onto RLlib", "Several learners").

Equality: with the same minibatches and random draws, 2 learners stepping on shards of B rows
each end with the state of 1 learner stepping on the 2B rows of both shards (the two shards'
draws concatenated likewise). The batches and draws go into each learner's own ``_update``
through ``foreach_learner``; while it runs, ``LossDraws`` in the learner's process is replaced by
a stand-in that returns the given draws.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import ray.cloudpickle
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from vgf_rllib import VGF, VGFConfig
from vgf_rllib.core.losses import LossDraws
from vgf_rllib.demo import DATASET_SPEC, ENV_SPEC

pytestmark = pytest.mark.usefixtures("ray_session")
# the helpers below run inside the remote learners, whose processes cannot import this file
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SHARD = 32  # rows per learner and gradient step
STEPS = 3
PARTICLES = 4
OBS_DIM, ACTION_DIM = 3, 2  # the demo bandit's
#: float32 sums in another order (DDP averages two shard means; one learner takes the mean of
#: the union) differ in the last bits; Adam's first steps move each weight by about lr = 3e-4,
#: so 1e-6 absolute is under 1% of one step
RTOL, ATOL = 1e-5, 1e-6

#: one learner's minibatch and the random draws of its gradient step
Shard = tuple[dict[str, torch.Tensor], LossDraws]


def tiny_config(variant: str, **training: Any) -> VGFConfig:
    """Small networks; L_train = 2 so that A-VGF's batch-wide direction clip acts twice."""
    settings = dict(
        variant=variant,
        critic_hidden_layers=[32, 32],
        sampler_hidden_layers=[32, 32],
        train_batch_size_per_learner=SHARD,
        num_particles=PARTICLES,
        sampler_euler_steps=3,
        train_flow_steps=2,
        updates_per_iteration=2,
        compile_learner=False,
    )
    settings.update(training)
    return (
        VGFConfig()
        .environment(ENV_SPEC)
        .offline_dataset(dataset=f"{DATASET_SPEC}-500")
        .training(**settings)
        .debugging(seed=3)
    )


def make_shard(rng: np.random.Generator) -> Shard:
    """One learner's minibatch (normalized observations, as the resident buffer holds them) and
    the draws of its gradient step. Rewards of scale 5 make the gradients longer than A-VGF's
    clip norm 1; masks are mostly 1 so that the transported next-state particles matter."""
    def tensor(*shape: int, low: float | None = None) -> torch.Tensor:
        values = rng.uniform(low, 1.0, shape) if low is not None else rng.normal(size=shape)
        return torch.as_tensor(values, dtype=torch.float32)

    batch = {
        "observations": tensor(SHARD, OBS_DIM),
        "actions": tensor(SHARD, ACTION_DIM, low=-1.0),
        "rewards": 5.0 * tensor(SHARD),
        "next_observations": tensor(SHARD, OBS_DIM),
        "masks": torch.as_tensor(rng.uniform(size=SHARD) < 0.9, dtype=torch.float32),
    }
    draws = LossDraws(
        tensor(SHARD, PARTICLES, ACTION_DIM), tensor(SHARD, ACTION_DIM), tensor(SHARD, low=0.0)
    )
    return batch, draws


def union(shards: list[Shard]) -> Shard:
    """The shards' minibatches and draws concatenated, shard 0 first."""
    batch = {name: torch.cat([b[name] for b, _ in shards]) for name in shards[0][0]}
    fields = ("next_noise", "flow_noise", "flow_times")
    draws = LossDraws(*(torch.cat([getattr(d, f) for _, d in shards]) for f in fields))
    return batch, draws


class GivenDraws:
    """Stands in for :class:`LossDraws` in the learner module: ``sample`` returns fixed draws."""

    def __init__(self, draws: LossDraws) -> None:
        self.draws = draws

    def sample(
        self, batch_size: int, num_particles: int, action_dim: int, device: torch.device
    ) -> LossDraws:
        assert tuple(self.draws.next_noise.shape) == (batch_size, num_particles, action_dim)
        return self.draws


def step_on_given(learner: Any, plan: list[list[Shard]]) -> dict[str, Any]:
    """Run in a learner: one ``_update`` per (batch, draws) of ``plan[learner index]``; returns
    the learner's state (module weights with targets, optimizer states, counters)."""
    from vgf_rllib.algorithm import learner as learner_module

    original = learner_module.LossDraws
    try:
        for batch, draws in plan[learner._learner_index]:
            learner_module.LossDraws = GivenDraws(draws)
            learner._update({DEFAULT_MODULE_ID: batch})
    finally:
        learner_module.LossDraws = original
    return comparable_state(learner)


def comparable_state(learner: Any) -> dict[str, Any]:
    """Module weights (targets included), optimizer states and the update count of a learner."""
    state = learner.get_state(components=["rl_module", "optimizer"])
    return {
        "weights": state["rl_module"][DEFAULT_MODULE_ID],
        "optimizer": state["optimizer"],
        "updates": learner.num_updates,
    }


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as ``{"/key/0/...": leaf}``."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}/{key}"))
        return out
    if isinstance(tree, (list, tuple)):
        out = {}
        for i, value in enumerate(tree):
            out.update(flatten(value, f"{prefix}/{i}"))
        return out
    return {prefix: tree}


def assert_states_close(actual: Any, expected: Any, *, rtol: float, atol: float) -> None:
    """Same keys; arrays within tolerance, other leaves equal."""
    a, e = flatten(actual), flatten(expected)
    assert sorted(a) == sorted(e)
    for key in e:
        if isinstance(e[key], (torch.Tensor, np.ndarray)):
            np.testing.assert_allclose(
                np.asarray(a[key]), np.asarray(e[key]), rtol=rtol, atol=atol, err_msg=key
            )
        else:
            assert a[key] == e[key], key


def on_learners(algo: VGF, fn: Any) -> list[Any]:
    return [call.get() for call in algo.learner_group.foreach_learner(fn)]


#: (variant, training options): VGF; A-VGF with the paper's sgd particle steps of eps = 1, whose
#: length the batch-wide direction clip sets (with the authors' fresh Adam a rescaled direction
#: moves the particles about as far, so a clip over the wrong rows would hardly show)
CASES = {
    "vgf": ("vgf", {}),
    "a-vgf-sgd": ("a-vgf", {"particle_optimizer": "sgd", "step_size": 1.0}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_two_learners_on_shards_equal_one_learner_on_their_union(case):
    """3 gradient steps: critics, targets, sampler, A-VGF's field and the Adam moments of 2 DDP
    learners on shards of 32 rows equal 1 learner's on the 64 rows of both (A-VGF clips every
    optimizer's gradients to norm 1, and they are longer here: the clip acts on the averaged
    gradients, after DDP's all-reduce in the backward pass, as one learner's would)."""
    variant, options = CASES[case]
    rng = np.random.default_rng(0)
    shards = [[make_shard(rng) for _ in range(2)] for _ in range(STEPS)]  # [step][learner]
    two = tiny_config(variant, **options).learners(num_learners=2).build_algo()
    one = tiny_config(variant, **options).build_algo()
    try:
        start = two.learner_group.get_weights()
        one.learner_group.set_weights(start)
        per_learner = [[step[k] for step in shards] for k in range(2)]
        after_two = on_learners(two, lambda learner: step_on_given(learner, per_learner))
        whole = [[union(step) for step in shards]]
        after_one = on_learners(one, lambda learner: step_on_given(learner, whole))
    finally:
        two.stop()
        one.stop()
    assert_states_close(after_two[1], after_two[0], rtol=0, atol=0)  # DDP keeps replicas equal
    moved, first = flatten(after_two[0]["weights"]), flatten(start[DEFAULT_MODULE_ID])
    networks = ["critic", "target_critic", "velocity"]
    networks += ["transport_field"] if variant == "a-vgf" else []
    for network in networks:  # every network moved
        assert any(
            key.startswith(f"/{network}.") and not np.array_equal(moved[key], first[key])
            for key in moved
        ), network
    assert_states_close(after_two[0], after_one[0], rtol=RTOL, atol=ATOL)


def random_streams(learner: Any) -> tuple[np.ndarray, np.ndarray]:
    """The learner's minibatch-index generator state and its torch RNG state (the loss draws)."""
    return learner._index_generator.get_state().numpy(), torch.get_rng_state().numpy()


def learner_record(learner: Any) -> tuple[dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    return comparable_state(learner), random_streams(learner)


def test_checkpoints_move_between_one_and_two_learners(tmp_path):
    """A-VGF (three optimizers): a 2-learner checkpoint restores into 1 learner and a 1-learner
    checkpoint into 2 with equal weights, targets, Adam states and update count; the first
    learner continues the saved random streams and the second draws its own."""
    running: list[VGF] = []  # stopped in the end if a check fails first

    def build(learners: int) -> VGF:
        running.append(tiny_config("a-vgf").learners(num_learners=learners).build_algo())
        return running[-1]

    def stop(algo: VGF) -> None:  # before the next build: 2 remote learners take both CPUs
        running.remove(algo)
        algo.stop()

    try:
        two = build(2)
        fresh = on_learners(two, random_streams)
        assert not np.array_equal(fresh[0][1], fresh[1][1])  # each learner its own loss draws
        two.train()
        saved_two = on_learners(two, learner_record)[0]
        two.save_to_path(tmp_path / "two")
        stop(two)

        one = build(0)
        one.restore_from_path(tmp_path / "two")
        ((restored, restored_streams),) = on_learners(one, learner_record)
        assert restored["updates"] == 2
        assert_states_close(restored, saved_two[0], rtol=0, atol=0)
        assert all(np.array_equal(a, b) for a, b in zip(restored_streams, saved_two[1]))
        one.train()
        saved_one = on_learners(one, learner_record)[0]
        one.save_to_path(tmp_path / "one")
        stop(one)

        back = build(2)
        back.restore_from_path(tmp_path / "one")
        first, second = on_learners(back, learner_record)
        assert first[0]["updates"] == second[0]["updates"] == 4
        assert_states_close(first[0], saved_one[0], rtol=0, atol=0)
        assert_states_close(second[0], saved_one[0], rtol=0, atol=0)
        assert all(np.array_equal(a, b) for a, b in zip(first[1], saved_one[1]))
        assert not any(np.array_equal(a, b) for a, b in zip(first[1], second[1]))
        back.train()  # DDP still keeps the replicas equal after the restore
        first, second = on_learners(back, comparable_state)
        assert first["updates"] == 6
        assert_states_close(second, first, rtol=0, atol=0)
    finally:
        for algo in running:
            algo.stop()
