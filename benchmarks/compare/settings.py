"""The comparison's options, and how each becomes a reference flag and a ``VGFConfig`` field.

Settings applied identically to both (reference flag <-> our ``VGFConfig`` field):
  N particles           --agent.vgf_particles            <-> num_particles
  L_train               --agent.train_vgf_steps          <-> train_flow_steps
  step size eps         --agent.vgf_lr                   <-> step_size (particle_optimizer=adam:
                                                             fresh Adam per transport call, both)
  alpha                 --agent.vgf_alpha                <-> alpha
  gamma                 --agent.discount                 <-> gamma
  hidden sizes          --agent.value_hidden_dims        <-> critic_hidden_layers
                        --agent.actor_hidden_dims        <-> sampler_hidden_layers
  Euler steps K         --agent.bc_flow_steps            <-> sampler_euler_steps
  batch size            --agent.batch_size               <-> train_batch_size_per_learner
  learning rates        --agent.value_lr, actor_lr       <-> critic_lr, sampler_lr
  tau                   --agent.tau                      <-> tau
  target twin agg       --agent.train_q_agg              <-> target_twin_agg (also selection scores)
  score twin agg        --agent.vgf_q_agg                <-> score_twin_agg
  particle agg          --agent.train_particle_select    <-> particle_agg
  selection             --agent.eval_particle_select=max <-> action_selection=argmax
  fixed in both         ReLU, LayerNorm (eps 1e-6) in the critics only, Xavier-uniform weights
                        and zero biases, flow loss averaged over rows and action dims, TD
                        critic loss (Q1 and Q2 against one target), no observation
                        normalization, no reward normalization (--normalize_r=0), dataset actions
                        clipped to +-(1 - 1e-5), L_test in {0, 1, 2, 3}
  data                  the same <dataset>.npz / <dataset>-val.npz in --dataset-dir, loaded in
                        both through ogbench.make_env_and_datasets (same rewards and masks)
  budget                --offline_steps / --eval_interval / --eval_episodes <-> the same numbers
  seed                  --seed=<s>                       <-> seed=<s>
  OGBench success timing: ours is set to the one the reference's eval env reports (ogbench 1.1.0,
                        the version the authors pin, only has "post"; >= 1.2 defaults to "pre").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

TEST_FLOW_STEPS = (0, 1, 2, 3)  # the reference evaluates exactly these (hard-coded in main.py)
IMPLS = ("reference", "ours")


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    """The command line; ``description`` heads ``--help``, this module's mapping ends it."""
    parser = argparse.ArgumentParser(
        description=description, epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reference", type=Path, help="local checkout of github.com/ryanxhr/vgf")
    parser.add_argument(
        "--reference-python",
        default="python",
        help="interpreter of the environment the reference runs in (default: python)",
    )
    parser.add_argument(
        "--task",
        default="pointmaze-medium-navigate-singletask-v0",
        help="OGBench single-task name (default: pointmaze-medium-navigate-singletask-v0)",
    )
    parser.add_argument(
        "--dataset-dir",
        type=Path,
        default=None,
        help="directory with <dataset>.npz and <dataset>-val.npz "
        "(default: $VGF_OGBENCH_DIR, else ~/.ogbench/data)",
    )
    parser.add_argument("--steps", type=int, default=2000, help="gradient steps (default 2000)")
    parser.add_argument(
        "--eval-interval", type=int, default=1000, help="gradient steps between evaluations"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=5, help="episodes per L_test and evaluation"
    )
    parser.add_argument(
        "--train-log-interval",
        type=int,
        default=100,
        help="the reference logs its losses every this many steps (one update's values); "
        "they are averaged per evaluation interval, as ours are (default 100)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--num-particles", type=int, default=10, help="N (default 10)")
    parser.add_argument("--train-flow-steps", type=int, default=1, help="L_train (default 1)")
    parser.add_argument("--step-size", type=float, default=0.1, help="eps (default 0.1)")
    parser.add_argument("--alpha", type=float, default=1.0, help="alpha (default 1.0)")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount (default 0.99)")
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[512, 512, 512, 512],
        help="hidden sizes of the critics and the flow sampler (default 512 512 512 512)",
    )
    parser.add_argument("--euler-steps", type=int, default=10, help="K (default 10)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-4, help="critic and sampler Adam lr")
    parser.add_argument("--tau", type=float, default=0.005)
    parser.add_argument("--target-twin-agg", choices=["min", "mean"], default="min")
    parser.add_argument("--score-twin-agg", choices=["min", "mean"], default="mean")
    parser.add_argument("--particle-agg", choices=["mean", "max"], default="mean")
    parser.add_argument(
        "--success-timing",
        choices=["auto", "pre", "post"],
        default="auto",
        help="OGBench success timing of our eval env; auto (default): the one the reference's "
        "eval env reports (ogbench's default when the reference is not run)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for each implementation's math (torch.set_num_threads for ours; "
        "XLA_FLAGS intra_op_parallelism_threads for the reference; OMP/MKL for both). "
        "Default: each library's own. Use 1 on a shared or oversubscribed CPU: torch's "
        "multi-threaded kernels slow down by 10-20x when their threads do not get a core",
    )
    parser.add_argument(
        "--only", choices=["both", *IMPLS], default="both", help="run one side only"
    )
    parser.add_argument(
        "--reuse-reference",
        action="store_true",
        help="reuse a reference run that finished in --output with exactly the same flags "
        "(for example to rerun ours alone after a change) instead of training it again",
    )
    parser.add_argument(
        "--metric",
        choices=["success_rate", "return_mean"],
        default="success_rate",
        help="final score the verdict compares (default success_rate)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=5.0,
        help="equivalence margin delta of the verdict, in the metric's printed units (success: "
        "percentage points; return: return units): 'equivalent' when the 95%% CI of ours - "
        "reference lies within +-delta (default 5.0; rule: benchmarks/compare/stats.py)",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("runs/compare_reference"), help="output directory"
    )
    args = parser.parse_args(argv)
    if args.only != "ours" and args.reference is None:
        parser.error("--reference DIR is required (or --only ours)")
    if args.steps < 1 or args.eval_interval < 1 or args.steps % args.eval_interval:
        parser.error("--steps must be a positive multiple of --eval-interval")
    if args.eval_episodes < 1:
        parser.error("--eval-episodes must be >= 1")
    if not 1 <= args.train_log_interval <= args.eval_interval:
        parser.error("--train-log-interval must be in [1, --eval-interval]")
    if args.margin <= 0:
        parser.error("--margin must be > 0")
    return args


def reference_flags(args: argparse.Namespace, seed: int, save_dir: Path) -> list[str]:
    """The authors' ``main.py`` flags for one seed."""
    hidden = "(" + ", ".join(str(h) for h in args.hidden) + ")"
    return [
        f"--env_name=ogbench:{args.task}",
        f"--seed={seed}",
        f"--offline_steps={args.steps}",
        "--online_steps=0",
        f"--eval_interval={args.eval_interval}",
        f"--eval_episodes={args.eval_episodes}",
        f"--log_interval={args.train_log_interval}",
        f"--save_interval={args.steps + 1}",  # no checkpoints
        "--buffer_size=1",  # the buffer is sized to the dataset (it takes max(this, size + 1))
        "--normalize_r=0",
        f"--save_dir={save_dir}",
        "--project_name=compare_reference",
        f"--run_group=seed{seed}",
        "--agent=agents/vgf.py",
        f"--agent.discount={args.gamma}",
        f"--agent.batch_size={args.batch_size}",
        "--agent.activations=relu",
        f"--agent.actor_lr={args.lr}",
        f"--agent.value_lr={args.lr}",
        f"--agent.value_hidden_dims={hidden}",
        f"--agent.actor_hidden_dims={hidden}",
        "--agent.layer_norm=True",
        "--agent.actor_layer_norm=False",
        "--agent.critic_loss=td",
        f"--agent.tau={args.tau}",
        f"--agent.train_q_agg={args.target_twin_agg}",
        f"--agent.vgf_q_agg={args.score_twin_agg}",
        "--agent.bc_policy_type=flow",
        f"--agent.bc_flow_steps={args.euler_steps}",
        f"--agent.vgf_particles={args.num_particles}",
        f"--agent.train_particle_select={args.particle_agg}",
        "--agent.eval_particle_select=max",
        f"--agent.train_vgf_steps={args.train_flow_steps}",
        f"--agent.vgf_lr={args.step_size}",
        f"--agent.vgf_alpha={args.alpha}",
    ]


def our_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Our ``VGFConfig`` fields for the same settings."""
    return {
        "num_particles": args.num_particles,
        "train_flow_steps": args.train_flow_steps,
        "step_size": args.step_size,
        "particle_optimizer": "adam",
        "alpha": args.alpha,
        "gamma": args.gamma,
        "critic_hidden_layers": list(args.hidden),
        "sampler_hidden_layers": list(args.hidden),
        "sampler_euler_steps": args.euler_steps,
        "train_batch_size_per_learner": args.batch_size,
        "critic_lr": args.lr,
        "sampler_lr": args.lr,
        "tau": args.tau,
        "target_twin_agg": args.target_twin_agg,
        "score_twin_agg": args.score_twin_agg,
        "particle_agg": args.particle_agg,
        "action_selection": "argmax",
        "test_flow_steps": list(TEST_FLOW_STEPS),
        "normalize_observations": False,
        "rescale_actions": False,
    }
