"""Throughput of VGF training and latency of acting, measured side by side in interleaved rounds.

Training, per config (same networks, losses and synthetic demo data on the same device):
  (a) RLlib's ``VGF.train()`` with one local learner (the compiled step, the default);
  (b) a bare PyTorch loop, eager: the learner's losses (``vgf_rllib.core.vgf_losses``), its fused
      Adam optimizers and per-step Polyak update, nothing else;
  (c) the same loop with the losses under ``torch.compile``, as ``compile_learner=True`` runs them
      (docs/algorithm.md, "Compiled update step");
  (d) with ``--reference DIR``: the authors' jitted JAX update (a local checkout of
      github.com/ryanxhr/vgf, never copied here) on the same data, run by
      ``benchmarks/reference_worker.py`` in the reference's interpreter (``--reference-python``).
Every round runs each path for the same number of updates, one after the other; the table gives
the median over rounds of updates/s, CPU seconds per update (process CPU time: all threads) and
the achieved TFLOP/s against the FLOPs one update counts (``torch.utils.flop_counter`` on one eager
step: matmuls of the forwards and backwards), and, on CUDA, the peak device memory.

Acting, one and 16 states, paper-sized networks (4x512) at N=10, K=10, L_test=3, on the device:
the acting code (``vgf_rllib.core.act_with_steps``) eager and under ``torch.compile``, the exported
artifact (CPU; docs/algorithm.md, "Exporting the acting path"), the authors' jitted acting (one
state; on CPU unless their JAX sees a GPU) and the hidden-layer products alone (a floor).

Without Ray (``--no-rllib``) everything but (a) and the exported artifact runs: the package's
core, data and demo modules import torch, gymnasium and numpy only.

    python benchmarks/throughput.py                         # CPU: training and acting
    python benchmarks/throughput.py --reference ../vgf --reference-python ../venv/bin/python
    python benchmarks/throughput.py --only acting           # acting latency only
    python benchmarks/throughput.py --device cuda           # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from vgf_rllib.core import ParticlePolicySettings, TransportSettings, TwinCritic, VelocityField, act_with_steps
from vgf_rllib.core.losses import LossDraws, vgf_losses
from vgf_rllib.core.networks import polyak_update
from vgf_rllib.demo import DATASET_SPEC, make_demo_arrays
from vgf_rllib.hardware import BF16_CPU_FLAGS, cpu_model_and_flags

TRANSITIONS = 20_000
WORKER = Path(__file__).with_name("reference_worker.py")


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
    "paper-L1": BenchConfig("paper-L1", [512] * 4, 256, 10, 10, 1),
    "paper-L3": BenchConfig("paper-L3", [512] * 4, 256, 10, 10, 3),
}


class BareLoop:
    """(b) / (c): one gradient step as the learner takes it, in plain PyTorch."""

    def __init__(self, cfg: BenchConfig, device: str, *, compiled: bool, precision: str = "fp32") -> None:
        arrays = make_demo_arrays(TRANSITIONS)
        self.data = {k: torch.as_tensor(v, device=device) for k, v in arrays.items() if k != "terminals"}
        obs_dim, self.action_dim = arrays["observations"].shape[1], arrays["actions"].shape[1]
        torch.manual_seed(0)
        self.critic = TwinCritic(obs_dim, self.action_dim, cfg.hidden).to(device)
        self.target = TwinCritic(obs_dim, self.action_dim, cfg.hidden).to(device)
        self.target.load_state_dict(self.critic.state_dict())
        self.target.requires_grad_(False)
        self.velocity = VelocityField(obs_dim, self.action_dim, cfg.hidden).to(device)
        self.optimizers = [
            torch.optim.Adam(self.critic.parameters(), lr=3e-4, fused=True),
            torch.optim.Adam(self.velocity.parameters(), lr=3e-4, fused=True),
        ]
        self.settings = ParticlePolicySettings(
            cfg.num_particles, cfg.euler_steps, TransportSettings(cfg.train_flow_steps, 0.1)
        )
        self.losses = torch.compile(vgf_losses, dynamic=False) if compiled else vgf_losses
        self.cfg, self.device, self.precision = cfg, device, precision

    def step(self) -> None:
        cfg = self.cfg
        index = torch.randint(TRANSITIONS, (cfg.batch_size,), device=self.device)
        batch = {k: v[index] for k, v in self.data.items()}
        draws = LossDraws.sample(cfg.batch_size, cfg.num_particles, self.action_dim, self.device)
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            losses = self.losses(self.velocity, self.critic, self.target, batch, self.settings,
                                 gamma=0.99, target_twin_agg="min", particle_agg="mean", draws=draws)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        (losses["critic_loss"] + losses["flow_loss"]).backward()
        for optimizer in self.optimizers:
            optimizer.step()
        polyak_update(self.critic, self.target, 0.005)

    def run(self, updates: int) -> None:
        for _ in range(updates):
            self.step()


class RLlibLoop:
    """(a): ``VGF.train()`` with one local learner; one ``train()`` call per round."""

    def __init__(self, cfg: BenchConfig, device: str, updates: int) -> None:
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
        self.algo = config.build_algo()
        self.updates = updates

    def run(self, updates: int) -> None:
        assert updates == self.updates
        self.algo.train()


class ReferenceLoop:
    """(d): the authors' jitted update, in its own interpreter (``reference_worker.py``)."""

    def __init__(self, cfg: BenchConfig, reference: Path, python: str, data_file: Path, acting: "ActingBench") -> None:
        settings = {**asdict(cfg), "acting_dims": [acting.obs_dim, acting.action_dim]}
        self.process = subprocess.Popen(
            [python, str(WORKER), str(reference.resolve()), str(data_file), json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        if self._read() != ["ready"]:
            sys.exit("the reference worker did not start (see its error output above)")
        self.cpu_seconds: list[float] = []

    def _read(self) -> list[str]:
        return self.process.stdout.readline().split()

    def _ask(self, command: str) -> list[str]:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def run(self, updates: int) -> None:
        _, cpu = self._ask(f"update {updates}")
        self.cpu_seconds.append(float(cpu))

    def acting_ms(self, calls: int) -> float:
        return float(self._ask(f"act {calls}")[0])

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def counted_flops(cfg: BenchConfig, device: str) -> int:
    """FLOPs of one eager update (matmuls of forwards and backwards) by torch's flop counter."""
    loop = BareLoop(cfg, device, compiled=False)
    with FlopCounterMode(display=False) as counter:
        loop.step()
    return counter.get_total_flops()


@dataclass
class Measured:
    updates_per_s: float
    cpu_s_per_update: float
    peak_bytes: int | None


def interleaved(paths: dict[str, object], updates: int, rounds: int, device: str) -> dict[str, Measured]:
    """Each path runs ``updates`` updates per round, the paths one after the other (after one
    untimed warm-up round: compilation); medians over ``rounds`` rounds."""
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    peaks: dict[str, int | None] = {name: None for name in paths}
    for round_index in range(rounds + 1):
        for name, path in paths.items():
            _sync(device)
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            wall, cpu = time.perf_counter(), time.process_time()
            path.run(updates)
            _sync(device)
            if device == "cuda":
                peaks[name] = torch.cuda.max_memory_allocated()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_index == 0:
                continue
            walls[name].append(wall)
            cpus[name].append(path.cpu_seconds[-1] if isinstance(path, ReferenceLoop) else cpu)
    return {
        name: Measured(updates / statistics.median(walls[name]), statistics.median(cpus[name]) / updates, peaks[name])
        for name in paths
    }


@dataclass(frozen=True)
class ActingBench:
    """Acting at the paper's sizes; dims of OGBench antmaze (29 obs, 8 actions)."""

    obs_dim: int = 29
    action_dim: int = 8
    hidden: tuple[int, ...] = (512,) * 4
    num_particles: int = 10
    euler_steps: int = 10
    flow_steps: int = 3


def acting_networks(bench: ActingBench, device: str) -> tuple[VelocityField, TwinCritic, ParticlePolicySettings]:
    """Untrained networks of ``bench``'s sizes (latency does not depend on the weights) and the
    acting settings (VGF's defaults: eps 0.1, alpha 1, fresh Adam, mean twins)."""
    torch.manual_seed(0)
    velocity = VelocityField(bench.obs_dim, bench.action_dim, bench.hidden).to(device).eval()
    critic = TwinCritic(bench.obs_dim, bench.action_dim, bench.hidden).to(device).eval()
    settings = ParticlePolicySettings(bench.num_particles, bench.euler_steps, TransportSettings(bench.flow_steps, 0.1))
    return velocity, critic, settings


def untrained_module(bench: ActingBench):
    """A VGF module of ``bench``'s sizes with its initial weights, acting at ``bench``'s budget
    (building it needs RLlib)."""
    import gymnasium as gym
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from vgf_rllib import VGFConfig
    from vgf_rllib.algorithm.rl_module import VGFTorchRLModule

    torch.manual_seed(0)
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


def exported_acting_path(bench: ActingBench) -> Callable:
    """The acting path of a VGF module of ``bench``'s sizes exported and loaded back (CPU; the
    module needs RLlib)."""
    from vgf_rllib.export import export_acting_path, load_artifact

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.pt2"
        export_acting_path(untrained_module(bench), path)
        artifact, _ = load_artifact(path)
    return artifact


def acting_latencies_ms(
    bench: ActingBench, batch: int, rounds: int, device: str, *, with_rllib: bool,
    reference: ReferenceLoop | None,
) -> dict[str, float]:
    """Median milliseconds per acting call on ``batch`` states, per acting path, interleaved.

    The eager and compiled rows run ``vgf_rllib.core.act_with_steps``, the code the module's
    ``compute_actions`` runs after normalizing observations.
    """
    velocity, critic, settings = acting_networks(bench, device)
    obs = torch.randn(batch, bench.obs_dim, device=device)
    noise = torch.randn(batch, bench.num_particles, bench.action_dim, device=device)

    def act(obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        actions, _ = act_with_steps(velocity, critic, obs, settings, score_twin_agg="min", noise=noise)
        return actions

    compiled = torch.compile(act, dynamic=False)
    paths: dict[str, Callable[[], torch.Tensor]] = {
        "eager": lambda: act(obs, noise),
        "torch.compile": lambda: compiled(obs, noise),
    }
    if with_rllib and device == "cpu":
        artifact = exported_acting_path(bench)
        uniform = torch.rand(batch)
        paths["exported .pt2 (untrained module)"] = lambda: artifact(obs, noise, uniform)
    with torch.no_grad():
        expected = paths["eager"]()
        assert torch.allclose(paths["torch.compile"](), expected, atol=1e-5)  # same actions
        for call in paths.values():  # warm-up
            call()
    paths["hidden-layer products alone"] = hidden_products(bench, batch, device)
    times: dict[str, list[float]] = {name: [] for name in paths}
    with torch.no_grad():
        for _ in range(rounds):
            for name, call in paths.items():
                _sync(device)
                start = time.perf_counter()
                call()
                _sync(device)
                times[name].append(1e3 * (time.perf_counter() - start))
    latencies = {name: statistics.median(values) for name, values in times.items()}
    if reference is not None and batch == 1:
        latencies["authors' jitted acting (d)"] = reference.acting_ms(rounds)
    return latencies


def hardware_line(device: str) -> str:
    """The machine the numbers belong to: processor model, logical cores, bf16 dot-product
    instructions and, on CUDA, the GPU; plus torch's version."""
    model, flags = cpu_model_and_flags() or ("unknown processor", frozenset())
    bf16 = sorted(flags & BF16_CPU_FLAGS) or ["no bf16 dot-product instructions"]
    line = f"hardware: {model}, {os.cpu_count()} logical cores ({', '.join(bf16)}); torch {torch.__version__}"
    if device == "cuda":
        line += f"; GPU {torch.cuda.get_device_name()}"
    return line


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def hidden_products(bench: ActingBench, batch: int, device: str) -> Callable[[], torch.Tensor]:
    """The acting path's (B N x width) @ (width x width) products and nothing else: a floor.

    Per sampler Euler step one velocity forward; per transport step a forward and an input
    backward of both twins; one twin forward to score: (layers - 1) (K + 2 (2 L + 1)) products,
    cycling over the 3 networks' distinct weights (their bytes are what limits small batches).
    """
    width, rows = bench.hidden[0], batch * bench.num_particles
    count = (len(bench.hidden) - 1) * (bench.euler_steps + 2 * (2 * bench.flow_steps + 1))
    weights = [torch.randn(width, width, device=device) for _ in range(3 * (len(bench.hidden) - 1))]
    bias, x = torch.randn(width, device=device), torch.randn(rows, width, device=device)

    def call() -> torch.Tensor:
        for index in range(count):
            out = torch.addmm(bias, x, weights[index % len(weights)])
        return out

    return call


def print_training_table(rows: list[tuple[BenchConfig, int, int, dict[str, Measured]]], device: str) -> None:
    print(f"\nVGF training on {device} (torch threads: {torch.get_num_threads()}); medians of interleaved rounds")
    header = f"{'config':<10}{'updates':>8}{'GFLOP/upd':>10}  {'path':<24}{'upd/s':>8}{'CPU-s/upd':>10}{'TFLOP/s':>9}"
    if device == "cuda":
        header += f"{'peak GiB':>9}"
    print(header)
    for cfg, updates, flops, measured in rows:
        for index, (name, m) in enumerate(measured.items()):
            lead = f"{cfg.name:<10}{updates:>8}{flops / 1e9:>10.3g}" if index == 0 else " " * 28
            line = f"{lead}  {name:<24}{m.updates_per_s:>8.2f}{m.cpu_s_per_update:>10.4f}{flops * m.updates_per_s / 1e12:>9.3f}"
            if device == "cuda" and m.peak_bytes is not None:
                line += f"{m.peak_bytes / 2**30:>9.2f}"
            print(line)
        rate = {name[:3]: m.updates_per_s for name, m in measured.items()}
        ratios = [f"{a}/{b} {rate[a] / rate[b]:.2f}" for a, b in (("(a)", "(c)"), ("(c)", "(b)"), ("(c)", "(d)")) if a in rate and b in rate]
        print(" " * 30 + "ratios: " + "  ".join(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--updates", type=int, default=None, help="updates per path and round "
                        "(default: 100 small / 4 paper on CPU, 200 on CUDA)")
    parser.add_argument("--rounds", type=int, default=3, help="training: timed rounds per path")
    parser.add_argument("--acting-rounds", type=int, default=50, help="acting: interleaved calls per path")
    parser.add_argument("--only", choices=["training", "acting"], default=None)
    parser.add_argument("--reference", type=Path, default=None, help="local checkout of github.com/ryanxhr/vgf")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="interpreter of the reference's environment (jax, flax, optax, ...)")
    parser.add_argument("--no-rllib", action="store_true",
                        help="a machine without Ray: skip (a) and the exported artifact's acting row")
    parser.add_argument("--bf16", action="store_true", help="also (e): the compiled loop under bf16 autocast")
    args = parser.parse_args()

    print(hardware_line(args.device))
    acting = ActingBench()
    with tempfile.TemporaryDirectory() as folder:
        data_file = Path(folder) / "demo.npz"
        np.savez(data_file, **make_demo_arrays(TRANSITIONS))
        rows = []
        if args.only != "acting":
            if not args.no_rllib:
                import ray

                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            for name in args.configs:
                cfg = CONFIGS[name]
                updates = args.updates or (200 if args.device == "cuda" else (100 if name == "small" else 4))
                paths: dict[str, object] = {}
                if not args.no_rllib:
                    paths["(a) VGF.train()"] = RLlibLoop(cfg, args.device, updates)
                paths["(b) bare loop, eager"] = BareLoop(cfg, args.device, compiled=False)
                paths["(c) bare loop, compiled"] = BareLoop(cfg, args.device, compiled=True)
                if args.bf16:
                    paths["(e) compiled, bf16"] = BareLoop(cfg, args.device, compiled=True, precision="bf16")
                if args.reference is not None:
                    paths["(d) authors' JAX update"] = ReferenceLoop(cfg, args.reference, args.reference_python, data_file, acting)
                measured = interleaved(paths, updates, args.rounds, args.device)
                rows.append((cfg, updates, counted_flops(cfg, args.device), measured))
                for path in paths.values():
                    if isinstance(path, ReferenceLoop):
                        path.close()
                    elif isinstance(path, RLlibLoop):
                        path.algo.stop()
                print_training_table(rows[-1:], args.device)
        if args.only != "training":
            reference = None
            if args.reference is not None:
                reference = ReferenceLoop(CONFIGS["paper-L1"], args.reference, args.reference_python, data_file, acting)
            print(f"\nActing latency, {len(acting.hidden)}x{acting.hidden[0]} networks, N={acting.num_particles}, "
                  f"K={acting.euler_steps}, L_test={acting.flow_steps}, {acting.obs_dim} obs / {acting.action_dim} action "
                  f"dims (torch threads: {torch.get_num_threads()}; median ms of {args.acting_rounds} interleaved calls)")
            latencies = {
                batch: acting_latencies_ms(acting, batch, args.acting_rounds, args.device,
                                           with_rllib=not args.no_rllib, reference=reference)
                for batch in (1, 16)
            }
            if reference is not None:
                reference.close()
            print(f"{'acting path':<36}{'1 state':>10}{'16 states':>11}")
            for name, ms in latencies[1].items():
                many = latencies[16].get(name)
                print(f"{name:<36}{ms:>10.2f}{'' if many is None else f'{many:>11.2f}'}")
    if rows and len(rows) > 1:
        print_training_table(rows, args.device)


if __name__ == "__main__":
    main()
