"""Scoring one set of weights at several test-time budgets L_test.

Every budget plays the same episodes (same env seeds), so budgets differ only by L_test
(docs/algorithm.md, "Acting and the test-time budget", and item 7 of "Deviations from the
authors' code").
Environments run in lockstep so each step is one batched particle-flow call; each episode draws
its own random numbers (a generator seeded like its env), so it plays the same whatever batch it
is in, and an evaluation can be split over EnvRunners (:func:`play_budgets` on each share,
:func:`summarize_budgets` on the driver; docs/algorithm.md, "Evaluation on EnvRunners").
The budget ``"auto"`` (docs/algorithm.md, "Adaptive test-time budget") lets each state choose its
steps; its record (``Lauto``) adds the mean and max steps the states took.
:data:`EVAL_EPISODES` (50, the paper's protocol) is the number of episodes per L_test wherever
a number is reported (config, ``vgf-rllib train`` and ``vgf-rllib evaluate``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from vgf_rllib.core.policy import acting_draws
from vgf_rllib.data.ogbench_data import SUCCESS_TIMINGS, env_success_timing
from vgf_rllib.data.spaces import unsquash_actions
from vgf_rllib.envs import make_env, normalized_score

MAX_PARALLEL_ENVS = 16
#: episodes per L_test and evaluation (the paper's protocol; docs/data.md, "Evaluation episodes")
EVAL_EPISODES = 50
#: evaluation episodes use env seeds EVAL_SEED_OFFSET + training seed + e (e = 0, 1, ...), apart
#: from any seed used in training; `vgf-rllib evaluate` defaults to the run's own evaluation seed
EVAL_SEED_OFFSET = 10_000
#: env spec prefix of the suite whose success timing can be chosen
OGBENCH_PREFIX = "ogbench:"
#: the per-state adaptive budget's name in ``test_flow_steps`` (its record key is ``Lauto``)
AUTO_BUDGET = "auto"


@dataclass(frozen=True)
class BudgetResult:
    """The outcome of ``episodes`` episodes at one test-time budget (an int L_test or "auto")."""

    test_flow_steps: int | str
    episodes: int
    return_mean: float
    return_std: float
    score_mean: float
    score_std: float
    success_rate: float | None = None
    success_timing: str | None = None  # OGBench envs only: "pre" or "post"
    # "auto" only: transport steps per decision (mean, max) and the most it could take
    flow_steps_mean: float | None = None
    flow_steps_max: int | None = None
    flow_steps_limit: int | None = None
    # one return per episode, in episode (seed) order: budgets of one evaluation are paired
    episode_returns: list[float] | None = None

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        for key in OPTIONAL_FIELDS:
            if record[key] is None:
                del record[key]
        return record


#: record fields left out where they do not apply
OPTIONAL_FIELDS = (
    "success_rate", "success_timing", "flow_steps_mean", "flow_steps_max", "flow_steps_limit",
    "episode_returns",
)


def budget_key(flow_steps: int | str) -> str:
    """A budget's key in ``vgf_eval`` and evaluation files: ``L0``, ``L3``, ``Lauto``."""
    return f"L{flow_steps}"


def budget_order(flow_steps: int | str) -> tuple[int, int]:
    """Sort key of budgets: fixed L_test in increasing order, then "auto"."""
    return (1, 0) if flow_steps == AUTO_BUDGET else (0, int(flow_steps))


@dataclass(frozen=True)
class PlayedEpisodes:
    """One budget's episodes as played, by this process or by one evaluation EnvRunner: per
    episode index (env seed = seed + index), its return, final success flag (None where the env
    reports none), decisions and transport steps. :func:`summarize_budgets` merges the shares
    of several EnvRunners in episode order and scores them."""

    episodes: list[int]
    returns: list[float]
    successes: list[float | None]
    decisions: list[int]
    flow_steps_sum: list[int]
    flow_steps_max: list[int]
    test_flow_steps: int | str = 0
    flow_steps_limit: int | None = None  # "auto" only: the most steps a decision could take
    success_timing: str | None = None


#: a policy for :func:`run_episodes`: a batch of observations and each row's episode generator
#: to actions in [-1, 1] and the transport steps each row took
EpisodePolicy = Callable[[np.ndarray, Sequence[torch.Generator]], tuple[np.ndarray, np.ndarray]]


def run_episodes(
    policy: EpisodePolicy,
    envs: Sequence[gym.Env],
    episodes: Sequence[int],
    *,
    seed: int = 0,
    progress: tqdm | None = None,
) -> PlayedEpisodes:
    """Play the episodes ``episodes`` (indices) in lockstep on ``envs``.

    Episode e resets its env with seed ``seed + e`` and owns a torch generator seeded alike, from
    which ``policy`` draws that episode's random numbers, so an episode plays the same whatever
    it shares a batch with (a local loop of 16 envs or one EnvRunner's share).
    """
    count = len(episodes)
    played = PlayedEpisodes(
        episodes=[int(e) for e in episodes], returns=[0.0] * count, successes=[None] * count,
        decisions=[0] * count, flow_steps_sum=[0] * count, flow_steps_max=[0] * count,
    )
    next_slot = 0
    slots: list[int | None] = [None] * len(envs)  # position in ``episodes`` of each env's episode
    observations: list[np.ndarray | None] = [None] * len(envs)
    generators: list[torch.Generator | None] = [None] * len(envs)

    def start(env_index: int) -> None:
        nonlocal next_slot
        if next_slot < count:
            episode_seed = seed + played.episodes[next_slot]
            obs, _ = envs[env_index].reset(seed=episode_seed)
            slots[env_index], observations[env_index] = next_slot, obs
            generators[env_index] = torch.Generator().manual_seed(episode_seed)
            next_slot += 1
        else:
            slots[env_index] = None

    for env_index in range(len(envs)):
        start(env_index)
    while any(s is not None for s in slots):
        active = [i for i, s in enumerate(slots) if s is not None]
        batch = np.stack([np.asarray(observations[i], dtype=np.float32).ravel() for i in active])
        actions, steps = policy(batch, [generators[i] for i in active])
        for i, action, taken in zip(active, actions, steps):
            env = envs[i]
            obs, reward, terminated, truncated, info = env.step(
                unsquash_actions(action, env.action_space)
            )
            slot = slots[i]
            played.returns[slot] += float(reward)
            played.decisions[slot] += 1
            played.flow_steps_sum[slot] += int(taken)
            played.flow_steps_max[slot] = max(played.flow_steps_max[slot], int(taken))
            observations[i] = obs
            if terminated or truncated:
                if "success" in info:
                    played.successes[slot] = float(info["success"])
                if progress is not None:
                    progress.update(1)
                start(i)
    return played


def play_budgets(
    module: Any,
    env_spec: str,
    test_flow_steps: Sequence[int | str],
    episodes: Sequence[int],
    *,
    num_particles: int | None = None,
    step_size: float | None = None,
    seed: int = 0,
    success_timing: str | None = None,
    max_flow_steps: int | None = None,
    progress: tqdm | None = None,
) -> list[PlayedEpisodes]:
    """Play the episodes ``episodes`` (indices) at each L_test in ``test_flow_steps``; the
    arguments are :func:`evaluate_budgets`'. What an evaluation EnvRunner runs on its share
    (docs/algorithm.md, "Acting and the test-time budget")."""
    module.eval()
    device = next(module.parameters()).device
    action_dim = int(np.prod(module.action_space.shape))

    def policy(obs: np.ndarray, generators: Sequence[torch.Generator]) -> tuple[np.ndarray, np.ndarray]:
        draws = [acting_draws(g, 1, module.acting.num_particles, action_dim) for g in generators]
        actions, steps = module.compute_actions_and_steps(
            torch.as_tensor(obs, device=device),
            noise=torch.cat([noise for noise, _ in draws]).to(device),
            uniform=torch.cat([uniform for _, uniform in draws]).to(device),
        )
        return actions.detach().cpu().numpy(), steps.cpu().numpy()

    env_kwargs = success_timing_kwargs(env_spec, success_timing)
    played = []
    saved = module.acting
    envs = [make_env(env_spec, **env_kwargs) for _ in range(min(len(episodes), MAX_PARALLEL_ENVS))]
    try:
        check_env_matches_module(env_spec, envs[0], module)
        timing = used_success_timing(env_spec, envs[0])
        for flow_steps in test_flow_steps:
            adaptive = flow_steps == AUTO_BUDGET
            limit = {"max_flow_steps": max_flow_steps} if adaptive else {}
            module.set_test_time_budget(
                flow_steps=flow_steps, num_particles=num_particles, step_size=step_size, **limit
            )
            outcome = run_episodes(policy, envs, episodes, seed=seed, progress=progress)
            played.append(replace(
                outcome,
                test_flow_steps=flow_steps if adaptive else int(flow_steps),
                flow_steps_limit=int(module.acting.transport.steps) if adaptive else None,
                success_timing=timing,
            ))
    finally:
        module.acting = saved
        for env in envs:
            env.close()
    return played


def evaluate_budgets(
    module: Any,
    env_spec: str,
    test_flow_steps: Sequence[int | str],
    episodes: int,
    *,
    num_particles: int | None = None,
    step_size: float | None = None,
    seed: int = 0,
    show_progress: bool = False,
    success_timing: str | None = None,
    max_flow_steps: int | None = None,
) -> list[BudgetResult]:
    """Score a VGF module at each L_test in ``test_flow_steps`` on the same episodes
    0, ..., ``episodes`` - 1 (env seeds ``seed + e``), in this process.

    ``score`` is the success rate in % where the env reports success (OGBench, AntMaze), else
    the benchmark's normalized score (D4RL via Minari), else the raw return.
    ``success_timing`` ("pre"/"post", OGBench only; None: ogbench's default) is passed to the
    env, and every record of an OGBench env names the timing the env used.
    ``"auto"`` in ``test_flow_steps`` scores the per-state adaptive budget, with at most
    ``max_flow_steps`` steps (None: the module's ``max_test_flow_steps``).
    """
    total = episodes * len(test_flow_steps)
    with tqdm(total=total, desc="evaluate", unit="ep", disable=not show_progress) as progress:
        played = play_budgets(
            module, env_spec, test_flow_steps, range(episodes), num_particles=num_particles,
            step_size=step_size, seed=seed, success_timing=success_timing,
            max_flow_steps=max_flow_steps, progress=progress,
        )
    return summarize_budgets(env_spec, [played])


def summarize_budgets(
    env_spec: str, shares: Sequence[Sequence[PlayedEpisodes]]
) -> list[BudgetResult]:
    """One :class:`BudgetResult` per budget from the :func:`play_budgets` outputs of one or
    more processes (each a share of the episodes), merged in episode order."""
    return [_budget_result(env_spec, merge_played(parts)) for parts in zip(*shares)]


def merge_played(parts: Sequence[PlayedEpisodes]) -> PlayedEpisodes:
    """One budget's shares as one record, its episodes in increasing order."""
    first = parts[0]
    rows = sorted(
        (episode, part, i) for part in parts for i, episode in enumerate(part.episodes)
    )
    column = lambda name: [getattr(part, name)[i] for _, part, i in rows]  # noqa: E731
    return replace(
        first,
        episodes=[episode for episode, _, _ in rows],
        returns=column("returns"),
        successes=column("successes"),
        decisions=column("decisions"),
        flow_steps_sum=column("flow_steps_sum"),
        flow_steps_max=column("flow_steps_max"),
    )


def check_env_matches_module(env_spec: str, env: gym.Env, module: Any) -> None:
    """Refuse an env whose observation or action shape differs from the trained module's
    (even where broadcasting would let the episodes run)."""
    for kind in ("observation", "action"):
        env_shape = getattr(env, f"{kind}_space").shape
        module_shape = getattr(module, f"{kind}_space").shape
        if env_shape != module_shape:
            raise ValueError(
                f"env {env_spec!r} has {kind} shape {env_shape}, but the checkpoint was trained "
                f"for {kind} shape {module_shape}; pass the env the run was trained for"
            )


def success_timing_kwargs(env_spec: str, success_timing: str | None) -> dict[str, Any]:
    """Env kwargs for ``success_timing``; a clear ValueError for bad values or non-OGBench envs."""
    if success_timing is None:
        return {}
    if success_timing not in SUCCESS_TIMINGS:
        raise ValueError(
            f"success_timing must be one of {list(SUCCESS_TIMINGS)} or None (ogbench's default), "
            f"got {success_timing!r}"
        )
    if not env_spec.startswith(OGBENCH_PREFIX):
        raise ValueError(
            f"success_timing applies to OGBench envs ('{OGBENCH_PREFIX}<name>') only, "
            f"not to '{env_spec}'"
        )
    return {"success_timing": success_timing}


def used_success_timing(env_spec: str, env: gym.Env) -> str | None:
    """The success timing an OGBench env judges with (None for other envs)."""
    if not env_spec.startswith(OGBENCH_PREFIX):
        return None
    return env_success_timing(env) or "unknown"


def _budget_result(env_spec: str, played: PlayedEpisodes) -> BudgetResult:
    """Summarize one budget's episodes; the score follows :func:`evaluate_budgets`; the
    "auto" budget adds the transport steps its decisions took (mean, max) and their limit."""
    returns = np.asarray(played.returns)
    success = None
    if any(s is not None for s in played.successes):
        success = np.array([0.0 if s is None else s for s in played.successes])
        scores = 100.0 * success
    else:
        normalized = normalized_score(env_spec, returns)
        scores = returns if normalized is None else normalized
    result = BudgetResult(
        test_flow_steps=played.test_flow_steps,
        episodes=len(returns),
        return_mean=float(returns.mean()),
        return_std=float(returns.std()),
        score_mean=float(np.mean(scores)),
        score_std=float(np.std(scores)),
        success_rate=None if success is None else float(success.mean()),
        success_timing=played.success_timing,
        episode_returns=[float(r) for r in returns],
    )
    if played.flow_steps_limit is None:
        return result
    return replace(
        result,
        flow_steps_mean=sum(played.flow_steps_sum) / sum(played.decisions),
        flow_steps_max=max(played.flow_steps_max),
        flow_steps_limit=played.flow_steps_limit,
    )


def results_by_budget(results: Sequence[BudgetResult]) -> dict[str, Any]:
    """The ``vgf_eval`` result entry: one record per ``L{n}`` (and ``Lauto``) plus the best budget."""
    best = max(results, key=lambda r: r.score_mean)
    entry: dict[str, Any] = {budget_key(r.test_flow_steps): r.as_record() for r in results}
    entry["best_score"] = best.score_mean
    entry["best_test_flow_steps"] = best.test_flow_steps
    return entry


def evaluation_seed(training_seed: int | None) -> int:
    """The first env seed of the evaluation episodes of a run trained with ``training_seed``."""
    return EVAL_SEED_OFFSET + int(training_seed or 0)


def acting_settings(
    module: Any, *, num_particles: int | None = None, step_size: float | None = None
) -> dict[str, Any]:
    """N and eps an evaluation of ``module`` acts with: the overrides given to
    :func:`evaluate_budgets`, else the module's own (what :func:`evaluation_document` records)."""
    return {
        "num_particles": module.acting.num_particles if num_particles is None else int(num_particles),
        "step_size": module.acting.transport.step_size if step_size is None else float(step_size),
    }


def evaluation_document(
    entry: dict[str, Any],
    *,
    checkpoint: str,
    env: str,
    num_particles: int | None = None,
    step_size: float | None = None,
    success_timing: str | None = None,
    seed: int,
    max_test_flow_steps: int | None = None,
) -> dict[str, Any]:
    """The evaluation record as files hold it (``vgf-rllib evaluate --output`` and a run's
    ``evaluation.json``): what was scored, how, and the ``vgf_eval`` entry of
    :func:`results_by_budget`, the same entry Tune results and ``results.jsonl`` carry."""
    return {
        "checkpoint": checkpoint,
        "env": env,
        "num_particles": num_particles,
        "step_size": step_size,
        "success_timing": success_timing,
        "seed": seed,
        "max_test_flow_steps": max_test_flow_steps,
        "vgf_eval": entry,
    }
