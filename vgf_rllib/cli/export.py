"""``vgf-rllib export``: write a checkpoint's acting path as a standalone torch.export artifact.

See docs/algorithm.md, "Exporting the acting path".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vgf_rllib.cli.output import report_error

LOAD_EXAMPLE = """\
Load and act with torch alone (no Ray, no vgf_rllib):
  extra = {{"vgf_policy.json": ""}}
  policy = torch.export.load("{path}", extra_files=extra).module()
  actions = policy(obs, torch.randn(len(obs), {particles}, {action_dim}), torch.rand(len(obs)))"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export the acting path as a torch.export artifact (.pt2) that needs only torch",
        description="Write the acting path (flow sampler, critics, transport, selection, "
        "observation normalization, scaling to the action bounds) at a chosen N, K and L_test "
        "as a torch.export program. It is called as policy(obs, noise, uniform) with noise ~ "
        "N(0, I) of shape (batch, N, action_dim) and uniform ~ U[0, 1) of shape (batch,), and "
        "gives the module's actions for the same draws.",
    )
    parser.add_argument("checkpoint", type=Path, help="run dir (latest checkpoint), algorithm checkpoint or RLModule dir")
    parser.add_argument("--output", type=Path, required=True, help="artifact file to write, e.g. policy.pt2")
    parser.add_argument("--num-particles", type=int, default=None, help="N (default: the trained N)")
    parser.add_argument(
        "--test-flow-steps", type=int, default=None, metavar="L",
        help="transport steps L_test (default: the module's inference_flow_steps)",
    )
    parser.add_argument("--euler-steps", type=int, default=None, metavar="K", help="sampler Euler steps K (default: the trained K)")
    parser.add_argument("--step-size", type=float, default=None, help="eps (default: the trained eps)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vgf_rllib.export import export_acting_path
    from vgf_rllib.policy import load_policy

    try:
        module = load_policy(args.checkpoint)
        metadata = export_acting_path(
            module,
            args.output,
            num_particles=args.num_particles,
            flow_steps=args.test_flow_steps,
            euler_steps=args.euler_steps,
            step_size=args.step_size,
        )
    except ValueError as error:  # bad checkpoint or test-time setting
        return report_error(error)
    particles, action_dim = metadata["inputs"]["noise"][1:]
    bounds = (
        f"actions scaled to [{metadata['action_low']}, {metadata['action_high']}]"
        if metadata["action_low"] is not None
        else "actions in [-1, 1] (the action space has no finite bounds)"
    )
    print(
        f"wrote {args.output}: N={metadata['num_particles']}, K={metadata['euler_steps']}, "
        f"L_test={metadata['transport']['steps']}, eps={metadata['transport']['step_size']}; "
        f"{bounds}; max |artifact - module| = {metadata['max_difference_to_module']:.2g}"
    )
    print(LOAD_EXAMPLE.format(path=args.output, particles=particles, action_dim=action_dim))
    return 0
