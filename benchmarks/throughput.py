"""Throughput of VGF training: RLlib's ``VGF.train()`` vs a bare PyTorch loop, side by side.

Both train the same networks with the same losses (``vgf_rllib.core.vgf_losses``) on the same
device-resident data; the ratio (a)/(b) is RLlib's overhead. Run:

    python benchmarks/throughput.py                 # CPU, small and paper configs
    python benchmarks/throughput.py --device cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch

from vgf_rllib.core import ParticlePolicySettings, TransportSettings, TwinCritic, VelocityField
from vgf_rllib.core.losses import vgf_losses
from vgf_rllib.core.networks import polyak_update
from vgf_rllib.demo import DATASET_SPEC, make_demo_arrays

TRANSITIONS = 20_000


@dataclass(frozen=True)
class BenchConfig:
    name: str
    hidden: list[int]
    batch_size: int
    num_particles: int
    euler_steps: int
    train_flow_steps: int


CONFIGS = {
    "small": BenchConfig("small", [64, 64], 64, 4, 3, 1),
    "paper": BenchConfig("paper", [512] * 4, 256, 10, 10, 1),
}


def bare_loop_updates_per_second(cfg: BenchConfig, device: str, updates: int) -> float:
    """(b): the same losses, Adam optimizers and per-step Polyak update in plain PyTorch."""
    arrays = make_demo_arrays(TRANSITIONS)
    data = {k: torch.as_tensor(v, device=device) for k, v in arrays.items() if k != "terminals"}
    obs_dim, action_dim = arrays["observations"].shape[1], arrays["actions"].shape[1]
    critic = TwinCritic(obs_dim, action_dim, cfg.hidden).to(device)
    target = TwinCritic(obs_dim, action_dim, cfg.hidden).to(device)
    target.load_state_dict(critic.state_dict())
    target.requires_grad_(False)
    velocity = VelocityField(obs_dim, action_dim, cfg.hidden).to(device)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=3e-4)
    sampler_opt = torch.optim.Adam(velocity.parameters(), lr=3e-4)
    settings = ParticlePolicySettings(
        cfg.num_particles, cfg.euler_steps, TransportSettings(cfg.train_flow_steps, 0.1)
    )

    def step() -> None:
        index = torch.randint(TRANSITIONS, (cfg.batch_size,), device=device)
        batch = {k: v[index] for k, v in data.items()}
        losses = vgf_losses(velocity, critic, target, batch, settings, gamma=0.99,
                            target_twin_agg="min", particle_agg="mean")
        critic_opt.zero_grad(set_to_none=True)
        sampler_opt.zero_grad(set_to_none=True)
        (losses["critic_loss"] + losses["flow_loss"]).backward()
        critic_opt.step()
        sampler_opt.step()
        polyak_update(critic, target, 0.005)

    for _ in range(5):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(updates):
        step()
    _sync(device)
    return updates / (time.perf_counter() - start)


def rllib_updates_per_second(cfg: BenchConfig, device: str, updates: int) -> float:
    """(a): ``VGF.train()`` with one local learner on ``device``."""
    from vgf_rllib import VGFConfig

    config = (
        VGFConfig()
        .offline_dataset(dataset=f"{DATASET_SPEC}-{TRANSITIONS}")
        .training(
            critic_hidden_layers=cfg.hidden,
            sampler_hidden_layers=cfg.hidden,
            train_batch_size_per_learner=cfg.batch_size,
            num_particles=cfg.num_particles,
            sampler_euler_steps=cfg.euler_steps,
            train_flow_steps=cfg.train_flow_steps,
            updates_per_iteration=updates,
        )
        .learners(num_learners=0, num_gpus_per_learner=1 if device == "cuda" else 0)
    )
    algo = config.build_algo()
    algo.learner_group._learner.train_on_resident_data(5)  # warm-up, as in (b)
    _sync(device)
    start = time.perf_counter()
    algo.train()
    _sync(device)
    elapsed = time.perf_counter() - start
    algo.stop()
    return updates / elapsed


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--updates", type=int, default=None, help="updates per measurement "
                        "(default: 300 small / 30 paper on CPU, 500 on CUDA)")
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = []
    for name in args.configs:
        cfg = CONFIGS[name]
        updates = args.updates or (500 if args.device == "cuda" else (300 if name == "small" else 30))
        bare = bare_loop_updates_per_second(cfg, args.device, updates)
        rllib = rllib_updates_per_second(cfg, args.device, updates)
        rows.append((name, updates, rllib, bare, rllib / bare))
    print(f"\nVGF training throughput on {args.device} (torch threads: {torch.get_num_threads()})")
    print(f"{'config':<8}{'updates':>9}{'(a) VGF.train() upd/s':>24}{'(b) bare loop upd/s':>22}{'(a)/(b)':>9}")
    for name, updates, rllib, bare, ratio in rows:
        print(f"{name:<8}{updates:>9}{rllib:>24.1f}{bare:>22.1f}{ratio:>9.2f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
