"""Throughput of VGF training and latency of acting, each measured side by side.

Training: RLlib's ``VGF.train()`` vs a bare PyTorch loop. Both train the same networks with the
same losses (``vgf_rllib.core.vgf_losses``) on the same device-resident data; the ratio (a)/(b)
is RLlib's overhead. (c) is the bare loop with the loss forwards under bf16 autocast, as
``precision="bf16"`` runs them (docs/algorithm.md, "Precision"); (c)/(b) is its speed-up.

Acting: one state, paper-sized networks (4x512) at N=10, K=10, L_test=3, through the module
(eager PyTorch, autograd for the transport) and through the exported artifact
(docs/algorithm.md, "Exporting the acting path"), calls interleaved round by round so that both
see the same machine load; ``--compile`` adds the artifact under ``torch.compile`` and compiled
ahead of time by AOTInductor (minutes of compilation; needs a C++ compiler).

    python benchmarks/throughput.py                    # CPU: training (small, paper) and acting
    python benchmarks/throughput.py --only acting      # acting latency only (no Ray)
    python benchmarks/throughput.py --device cuda      # training on a GPU machine
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


def bare_loop_updates_per_second(
    cfg: BenchConfig, device: str, updates: int, precision: str = "fp32"
) -> float:
    """(b): the same losses, Adam optimizers and per-step Polyak update in plain PyTorch;
    ``precision="bf16"`` (c): the loss forwards under bf16 autocast."""
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
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
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


@dataclass(frozen=True)
class ActingBench:
    """Single-state acting at the paper's sizes; dims of OGBench antmaze (29 obs, 8 actions)."""

    obs_dim: int = 29
    action_dim: int = 8
    hidden: tuple[int, ...] = (512,) * 4
    num_particles: int = 10
    euler_steps: int = 10
    flow_steps: int = 3


def acting_module(bench: ActingBench):
    """An untrained VGF module of ``bench``'s sizes (latency does not depend on the weights)."""
    import gymnasium as gym
    import numpy as np
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from vgf_rllib import VGFConfig
    from vgf_rllib.algorithm.rl_module import VGFTorchRLModule

    config = VGFConfig().training(
        critic_hidden_layers=list(bench.hidden),
        sampler_hidden_layers=list(bench.hidden),
        num_particles=bench.num_particles,
        sampler_euler_steps=bench.euler_steps,
    )
    module = RLModuleSpec(
        module_class=VGFTorchRLModule,
        observation_space=gym.spaces.Box(-np.inf, np.inf, (bench.obs_dim,), np.float32),
        action_space=gym.spaces.Box(-1.0, 1.0, (bench.action_dim,), np.float32),
        model_config=config._model_config_auto_includes,
    ).build()
    module.set_test_time_budget(flow_steps=bench.flow_steps)
    return module.eval()


def acting_latencies_ms(bench: ActingBench, rounds: int, compile_artifact: bool) -> dict[str, tuple[float, float]]:
    """Median and 10th-percentile milliseconds per single-state action, per acting path."""
    from vgf_rllib.export import export_acting_path, load_artifact

    module = acting_module(bench)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.pt2"
        export_acting_path(module, path)
        artifact, _ = load_artifact(path)
        if compile_artifact:  # AOTInductor: the artifact compiled ahead of time to a .pt2 package
            package = torch._inductor.aoti_compile_and_package(
                torch.export.load(str(path)), package_path=str(Path(folder) / "aoti.pt2")
            )
            aoti = torch._inductor.aoti_load_package(package)
    obs = torch.randn(1, bench.obs_dim)
    noise = torch.randn(1, bench.num_particles, bench.action_dim)
    uniform = torch.rand(1)

    def exported(policy: Callable) -> Callable[[], torch.Tensor]:
        def call() -> torch.Tensor:
            with torch.no_grad():
                return policy(obs, noise, uniform)
        return call

    paths: dict[str, Callable[[], torch.Tensor]] = {
        "module (eager)": lambda: module.compute_actions(obs, noise=noise, uniform=uniform),
        "exported .pt2": exported(artifact),
    }
    if compile_artifact:
        paths["exported + torch.compile"] = exported(torch.compile(artifact))
        paths["exported + AOTInductor"] = exported(aoti)
    reference = paths["module (eager)"]().detach()
    for name, call in paths.items():  # warm-up (and compilation), same actions everywhere
        assert torch.allclose(call(), reference, atol=1e-5), name
    paths["hidden-layer products alone"] = hidden_products(bench)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, call in paths.items():
            start = time.perf_counter()
            call()
            times[name].append(1e3 * (time.perf_counter() - start))
    return {
        name: (statistics.median(values), statistics.quantiles(values, n=10)[0])
        for name, values in times.items()
    }


def hidden_products(bench: ActingBench) -> Callable[[], torch.Tensor]:
    """The acting path's (N x width) @ (width x width) products and nothing else: a floor.

    Per sampler Euler step one velocity forward; per transport step a forward and an input
    backward of both twins; one twin forward to score: (layers - 1) (K + 2 (2 L + 1)) products.
    """
    width, rows = bench.hidden[0], bench.num_particles
    count = (len(bench.hidden) - 1) * (bench.euler_steps + 2 * (2 * bench.flow_steps + 1))
    weight, bias, x = torch.randn(width, width), torch.randn(width), torch.randn(rows, width)

    def call() -> torch.Tensor:
        with torch.no_grad():
            for _ in range(count):
                out = torch.addmm(bias, x, weight)
        return out

    return call


def print_acting_latencies(bench: ActingBench, rounds: int, compile_artifact: bool) -> None:
    latencies = acting_latencies_ms(bench, rounds, compile_artifact)
    eager = latencies["module (eager)"][0]
    print(
        f"\nSingle-state acting latency, {len(bench.hidden)}x{bench.hidden[0]} networks, "
        f"N={bench.num_particles}, K={bench.euler_steps}, L_test={bench.flow_steps} "
        f"(torch threads: {torch.get_num_threads()}, {rounds} interleaved rounds)"
    )
    print(f"{'acting path':<28}{'median ms':>11}{'p10 ms':>9}{'median / eager':>16}")
    for name, (median, p10) in latencies.items():
        print(f"{name:<28}{median:>11.2f}{p10:>9.2f}{median / eager:>16.2f}")


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--updates", type=int, default=None, help="updates per measurement "
                        "(default: 300 small / 30 paper on CPU, 500 on CUDA)")
    parser.add_argument("--only", choices=["training", "acting"], default=None,
                        help="run one of the two measurements (default: both)")
    parser.add_argument("--rounds", type=int, default=200, help="acting: interleaved rounds")
    parser.add_argument("--compile", action="store_true",
                        help="acting: also time the artifact under torch.compile and AOTInductor")
    args = parser.parse_args()
    if args.only != "training":
        print_acting_latencies(ActingBench(), args.rounds, args.compile)
    if args.only == "acting":
        return

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rows = []
    for name in args.configs:
        cfg = CONFIGS[name]
        updates = args.updates or (500 if args.device == "cuda" else (300 if name == "small" else 30))
        bare = bare_loop_updates_per_second(cfg, args.device, updates)
        rllib = rllib_updates_per_second(cfg, args.device, updates)
        bf16 = bare_loop_updates_per_second(cfg, args.device, updates, precision="bf16")
        rows.append((name, updates, rllib, bare, bf16))
    print(f"\nVGF training throughput on {args.device} (torch threads: {torch.get_num_threads()})")
    print(
        f"{'config':<8}{'updates':>9}{'(a) VGF.train() upd/s':>24}{'(b) bare loop upd/s':>22}"
        f"{'(a)/(b)':>9}{'(c) bare bf16 upd/s':>22}{'(c)/(b)':>9}"
    )
    for name, updates, rllib, bare, bf16 in rows:
        print(
            f"{name:<8}{updates:>9}{rllib:>24.1f}{bare:>22.1f}{rllib / bare:>9.2f}"
            f"{bf16:>22.1f}{bf16 / bare:>9.2f}"
        )
    ray.shutdown()


if __name__ == "__main__":
    main()
