"""``vgf-rllib data``: generate OGBench datasets offline, list local datasets, check a dataset.

See docs/algorithm.md, "Data", and docs/data.md. Nothing here touches the network.
"""

from __future__ import annotations

import argparse

from vgf_rllib.cli.output import report_error

DIR_HELP = "OGBench dataset directory (default: $VGF_OGBENCH_DIR, else ~/.ogbench/data)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="generate, list and check offline datasets",
        description="Offline datasets: generate OGBench point-maze and "
        "manipulation datasets with OGBench's own oracles, list what is present locally, and "
        "validate a dataset (for OGBench also against the environment's success signal).",
    )
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    generate = commands.add_parser(
        "generate",
        help="generate an OGBench dataset offline",
        description="Generate an OGBench dataset with OGBench's environments and scripted "
        "oracles, following its published recipe (episode count and length, noise), plus 10% "
        "validation episodes. Writes <dataset>.npz and <dataset>-val.npz, which the "
        "'ogbench:<env>-<dataset>-singletask[-taskN]-v0' loader reads. antmaze, humanoidmaze and "
        "antsoccer need downloaded expert policies and are refused.",
    )
    generate.add_argument(
        "dataset",
        help="dataset name, e.g. pointmaze-medium-navigate-v0 or cube-single-play-v0 "
        "(a single-task name works too); see `vgf-rllib data list --available`",
    )
    generate.add_argument(
        "--episodes",
        type=int,
        metavar="N",
        help="training episodes (default: the official count, e.g. 1000); "
        "validation adds max(1, N // 10)",
    )
    generate.add_argument(
        "--steps",
        type=int,
        metavar="T",
        help="steps per episode (default: the official length, e.g. 1001)",
    )
    generate.add_argument("--dir", metavar="D", help=DIR_HELP)
    generate.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed (default: 0)"
    )
    generate.add_argument("--force", action="store_true", help="overwrite existing files")
    generate.add_argument(
        "--no-verify",
        action="store_true",
        help="skip checking the written file against the env's success signal",
    )
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(func=run_generate)

    listing = commands.add_parser(
        "list",
        help="list local datasets",
        description="List the OGBench files in the dataset directory and the Minari datasets in "
        "the local Minari store ($MINARI_DATASETS_PATH, else ~/.minari/datasets): name, size, "
        "transitions.",
    )
    listing.add_argument("--dir", metavar="D", help=DIR_HELP)
    listing.add_argument(
        "--available",
        action="store_true",
        help="also list the OGBench datasets `data generate` can make, with their "
        "official episode counts",
    )
    listing.set_defaults(func=run_list)

    check = commands.add_parser(
        "check",
        help="validate a dataset",
        description="Load a dataset through the same loader training uses and report its shape; "
        "for OGBench, also verify rewards/masks against the env's own success signal on sampled "
        "rows. Reports how many rows end a trajectory and how many stop bootstrapping (mask 0), and "
        "warns when every trajectory end also stops bootstrapping. Exit status 2 for a bad "
        "dataset (as train).",
    )
    check.add_argument(
        "spec",
        help="ogbench:<name>, a bare OGBench dataset or single-task name, "
        "minari:<id>, a Minari dataset directory, or a .npz/.parquet file",
    )
    check.add_argument("--dir", metavar="D", help=DIR_HELP + "; for minari: the store root")
    check.add_argument(
        "--samples",
        type=int,
        default=256,
        metavar="K",
        help="OGBench rows compared with the env (default: 256)",
    )
    check.add_argument(
        "--env",
        metavar="ENV",
        help="evaluation env spec: check dims against its spaces (and rescale from "
        "its action bounds with --rescale-actions)",
    )
    check.add_argument(
        "--rescale-actions",
        action="store_true",
        help="map actions from the env's action bounds into [-1, 1] before validating",
    )
    check.set_defaults(func=run_check)


def run_generate(args: argparse.Namespace) -> int:
    from vgf_rllib.data import DatasetError
    from vgf_rllib.data.ogbench_generate import generate
    from vgf_rllib.data.ogbench_verify import verify

    try:
        paths = generate(
            args.dataset,
            episodes=args.episodes,
            dataset_dir=args.dir,
            seed=args.seed,
            episode_steps=args.steps,
            overwrite=args.force,
            progress=not args.quiet,
        )
        print(f"wrote {paths[0]} and {paths[1]}")
        if not args.no_verify:
            print(verify(args.dataset, dataset_dir=args.dir).summary())
    except DatasetError as error:
        return report_error(error, code=1)
    return 0


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 2**20:.1f} MiB"


def run_list(args: argparse.Namespace) -> int:
    from vgf_rllib.data.inventory import minari_datasets, ogbench_datasets
    from vgf_rllib.data.ogbench_catalog import ogbench_dir

    for title, entries in (
        (f"OGBench ({ogbench_dir(args.dir)})", ogbench_datasets(args.dir)),
        ("Minari", minari_datasets()),
    ):
        print(title)
        for entry in entries:
            count = "?" if entry.transitions is None else f"{entry.transitions:,}"
            size = _size(entry.size_bytes)
            print(f"  {entry.spec:<45} {size:>12} {count:>12} transitions  {entry.note}")
        if not entries:
            print("  (none)")
    if args.available:
        from vgf_rllib.data.ogbench_generate import generatable

        print("Generable with `vgf-rllib data generate <dataset>`")
        for name, recipe in generatable():
            print(
                f"  {name.dataset:<45} {recipe.episodes:>6} episodes x {recipe.episode_steps} steps"
            )
    return 0


def _is_ogbench(spec: str) -> bool:
    from vgf_rllib.data.ogbench_catalog import OGBENCH_DATASETS

    name = spec.removeprefix("ogbench:")
    return spec.startswith("ogbench:") or (
        name.endswith("-v0")
        and name.split("-")[0] in {env.split("-")[0] for env in OGBENCH_DATASETS}
    )


def run_check(args: argparse.Namespace) -> int:
    from vgf_rllib.data import DatasetError, check_against_spaces, load_dataset
    from vgf_rllib.data.dataset import every_end_stops_bootstrapping, warn_once
    from vgf_rllib.envs import EnvSpecError, make_env

    try:
        if _is_ogbench(args.spec):
            from vgf_rllib.data.ogbench_verify import verify

            print(verify(args.spec, dataset_dir=args.dir, samples=args.samples).summary())
            return 0
        env = make_env(args.env) if args.env else None
        dataset = load_dataset(
            args.spec,
            dataset_dir=args.dir,
            rescale_actions=args.rescale_actions,
            action_space=env.action_space if env else None,
        )
        if env is not None:
            check_against_spaces(dataset, env.observation_space, env.action_space)
            env.close()
    except (DatasetError, EnvSpecError) as error:
        return report_error(error)
    rewards = dataset.rewards
    print(
        f"{dataset.source}: {len(dataset)} transitions, obs dim {dataset.observation_dim}, "
        f"action dim {dataset.action_dim}, rewards [{rewards.min():.4g}, {rewards.max():.4g}] "
        f"mean {rewards.mean():.4g}; {int(dataset.terminals.sum())} rows end a trajectory, "
        f"{int((dataset.masks == 0).sum())} stop bootstrapping (mask 0)"
        + (f"; dims match {args.env}" if args.env else "")
    )
    if every_end_stops_bootstrapping(dataset):
        warn_once(dataset.source, (
            f"{dataset.source}: every trajectory end also stops bootstrapping (mask 0): right "
            "only if every episode really terminated; mark time-limit ends in 'timeouts' (or "
            "give them mask 1) (docs/data.md)"
        ))
    return 0
