"""Scoring one set of weights at several test-time budgets L_test.

Every budget plays the same episodes (same env seeds), so budgets differ only by L_test
(docs/algorithm.md, "Acting and the test-time budget", and item 7 of "Deviations from the
authors' code").
Environments run in lockstep so each step is one batched particle-flow call.
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


def run_episodes(
    policy: Callable[[np.ndarray], np.ndarray],
    envs: Sequence[gym.Env],
    episodes: int,
    *,
    seed: int = 0,
    progress: tqdm | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Play ``episodes`` episodes in lockstep on ``envs``; episode e resets with ``seed + e``.

    ``policy`` maps a batch of observations to actions in [-1, 1]. Returns episode returns
    and, where the env reports ``info["success"]``, the final success flags (else None).
    """
    returns = np.zeros(episodes)
    successes: list[float | None] = [None] * episodes
    next_episode = 0
    slots: list[int | None] = [None] * len(envs)
    observations: list[np.ndarray | None] = [None] * len(envs)

    def start(slot: int) -> None:
        nonlocal next_episode
        if next_episode < episodes:
            obs, _ = envs[slot].reset(seed=seed + next_episode)
            slots[slot], observations[slot] = next_episode, obs
            next_episode += 1
        else:
            slots[slot] = None

    for slot in range(len(envs)):
        start(slot)
    while any(s is not None for s in slots):
        active = [i for i, s in enumerate(slots) if s is not None]
        batch = np.stack([np.asarray(observations[i], dtype=np.float32).ravel() for i in active])
        actions = policy(batch)
        for i, action in zip(active, actions):
            env = envs[i]
            obs, reward, terminated, truncated, info = env.step(
                unsquash_actions(action, env.action_space)
            )
            episode = slots[i]
            returns[episode] += float(reward)
            observations[i] = obs
            if terminated or truncated:
                if "success" in info:
                    successes[episode] = float(info["success"])
                if progress is not None:
                    progress.update(1)
                start(i)
    if all(s is None for s in successes):
        return returns, None
    return returns, np.array([0.0 if s is None else s for s in successes])


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
    """Score a VGF module at each L_test in ``test_flow_steps`` on the same episodes.

    ``score`` is the success rate in % where the env reports success (OGBench, AntMaze), else
    the benchmark's normalized score (D4RL via Minari), else the raw return.
    ``success_timing`` ("pre"/"post", OGBench only; None: ogbench's default) is passed to the
    env, and every record of an OGBench env names the timing the env used.
    ``"auto"`` in ``test_flow_steps`` scores the per-state adaptive budget, with at most
    ``max_flow_steps`` steps (None: the module's ``max_test_flow_steps``).
    """
    module.eval()
    device = next(module.parameters()).device
    steps_taken: list[np.ndarray] = []  # per decision, while the "auto" budget plays

    def policy(obs: np.ndarray) -> np.ndarray:
        tensor = torch.as_tensor(obs, device=device)
        return module.compute_actions(tensor).detach().cpu().numpy()

    def counting_policy(obs: np.ndarray) -> np.ndarray:
        tensor = torch.as_tensor(obs, device=device)
        actions, steps = module.compute_actions_and_steps(tensor)
        steps_taken.append(steps.cpu().numpy())
        return actions.detach().cpu().numpy()

    env_kwargs = success_timing_kwargs(env_spec, success_timing)
    results = []
    saved = module.acting
    envs = [make_env(env_spec, **env_kwargs) for _ in range(min(episodes, MAX_PARALLEL_ENVS))]
    try:
        check_env_matches_module(env_spec, envs[0], module)
    except ValueError:
        for env in envs:
            env.close()
        raise
    timing = used_success_timing(env_spec, envs[0])
    total = episodes * len(test_flow_steps)
    try:
        with tqdm(total=total, desc="evaluate", unit="ep", disable=not show_progress) as progress:
            for flow_steps in test_flow_steps:
                adaptive = flow_steps == AUTO_BUDGET
                limit = {"max_flow_steps": max_flow_steps} if adaptive else {}
                module.set_test_time_budget(
                    flow_steps=flow_steps, num_particles=num_particles, step_size=step_size,
                    **limit,
                )
                torch.manual_seed(seed)
                steps_taken.clear()
                returns, success = run_episodes(
                    counting_policy if adaptive else policy, envs, episodes, seed=seed,
                    progress=progress,
                )
                result = _budget_result(env_spec, flow_steps, returns, success)
                if adaptive:
                    result = _with_steps(result, steps_taken, module.acting.transport.steps)
                results.append(replace(result, success_timing=timing))
    finally:
        module.acting = saved
        for env in envs:
            env.close()
    return results


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


def _with_steps(result: BudgetResult, steps: list[np.ndarray], limit: int) -> BudgetResult:
    """``result`` with the transport steps its decisions took (mean, max) and their limit."""
    taken = np.concatenate(steps)
    return replace(
        result,
        flow_steps_mean=float(taken.mean()),
        flow_steps_max=int(taken.max()),
        flow_steps_limit=int(limit),
    )


def _budget_result(
    env_spec: str, flow_steps: int | str, returns: np.ndarray, success: np.ndarray | None
) -> BudgetResult:
    """Summarize one budget's episodes; the score follows :func:`evaluate_budgets`."""
    if success is not None:
        scores = 100.0 * success
    else:
        normalized = normalized_score(env_spec, returns)
        scores = returns if normalized is None else normalized
    return BudgetResult(
        test_flow_steps=flow_steps if flow_steps == AUTO_BUDGET else int(flow_steps),
        episodes=len(returns),
        return_mean=float(returns.mean()),
        return_std=float(returns.std()),
        score_mean=float(np.mean(scores)),
        score_std=float(np.std(scores)),
        success_rate=None if success is None else float(success.mean()),
        episode_returns=[float(r) for r in returns],
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
