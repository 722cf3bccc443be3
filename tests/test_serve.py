"""Serving a policy with Ray Serve (docs/serving.md): answers in env units equal the Python call
with the same draws, per request budget and whatever a request is batched with; bad requests get
a 4xx naming the field; a killed replica is replaced. One small Pendulum run (action bounds
[-2, 2]) is served three ways (run dir, checkpoint, .pt2) on one Serve instance; traffic goes to
127.0.0.1 only, bounded in count and time."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import torch

from vgf_rllib.cli import main
from vgf_rllib.data.spaces import unsquash_actions
from vgf_rllib.policy import load_policy

REPO = Path(__file__).resolve().parents[1]
OBS_DIM = 3  # Pendulum-v1
#: the .pt2 is exported at L_test=2 with the trained N=4
EXPORTED = {"flow_steps": 2, "num_particles": 4}
#: the run's own budget (inference_flow_steps, num_particles): what the server acts by default
TRAINED = {"flow_steps": 1, "num_particles": 4}
MAX_OBSERVATIONS = 8
TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: bytes | None = None) -> tuple[int, Any]:
    """(status, decoded JSON or text) of a GET (no body) or POST to ``url`` (127.0.0.1 only)."""
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        status, text = refused.code, refused.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def act(url: str, **payload: Any) -> tuple[int, Any]:
    return call(f"{url}/act", json.dumps(payload).encode())


TINY_TRAINING = [
    "train", "--dataset", "random:Pendulum-v1-2", "--iterations", "1",
    "--updates-per-iteration", "5", "--set", "critic_hidden_layers=[32,32]",
    "--set", "sampler_hidden_layers=[32,32]", "--set", "num_particles=4",
    "--set", "action_selection=softmax", "--eval-episodes", "0",
]


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2x32 VGF run on random Pendulum data (5 updates, softmax selection so that the
    selection draw matters), its checkpoint and its .pt2."""
    folder = tmp_path_factory.mktemp("serve")
    run = folder / "run"
    assert main([*TINY_TRAINING, "--output", str(run)]) == 0
    artifact = folder / "policy.pt2"
    assert main(["export", str(run), "--output", str(artifact),
                 "--test-flow-steps", str(EXPORTED["flow_steps"])]) == 0
    return {"run": run, "checkpoint": run / "checkpoints" / "iter_000001", "pt2": artifact}


@cache
def cached_policy(path: Path) -> Any:
    return load_policy(path)


def python_actions(path: Path, obs: np.ndarray, seed: int, **budget: Any) -> tuple[np.ndarray, np.ndarray]:
    """What ``load_policy(path)`` acts for ``obs`` at ``budget`` (default: the trained one) with
    the draws the server documents (a CPU ``torch.Generator`` seeded by the request's seed: noise,
    then the selection draw), in env units, and the steps each state took."""
    module = cached_policy(path)
    module.set_test_time_budget(**{**TRAINED, **budget})
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((len(obs), module.acting.num_particles, 1), generator=generator)
    uniform = torch.rand((len(obs),), generator=generator)
    actions = module.compute_actions(torch.as_tensor(obs), noise=noise, uniform=uniform)
    _, steps = module.compute_actions_and_steps(torch.as_tensor(obs), noise=noise, uniform=uniform)
    return unsquash_actions(actions.detach().numpy(), module.action_space), steps.numpy()


def observations(seed: int, states: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(states, OBS_DIM)).astype(np.float32)


@pytest.mark.parametrize("variant", ["vgf", "a-vgf"])
def test_a_batched_order_gets_the_answer_it_gets_alone(paths, tmp_path, variant):
    """In process, no Serve: VGF stacks same-budget requests into one call; A-VGF's transport
    clips by a norm over all states of a call, so its requests act alone."""
    from vgf_rllib.serve.acting import act_orders, load_served_policy, order
    from vgf_rllib.serve.requests import ActRequest

    run = paths["run"]
    if variant == "a-vgf":
        run = tmp_path / "a-vgf"
        assert main([*TINY_TRAINING, "--set", "variant=a-vgf", "--output", str(run)]) == 0
    policy = load_served_policy(run)
    orders = [order(policy, ActRequest(observations(300 + i, 1 + i % 3), False, 2, None, i)) for i in range(4)]
    together = act_orders(policy, orders)
    for alone, batched in zip((act_orders(policy, [o])[0] for o in orders), together):
        np.testing.assert_allclose(batched["actions"], alone["actions"], atol=1e-6)
    assert {answer["batched_requests"] for answer in together} == ({1} if variant == "a-vgf" else {4})


def test_cli_refuses_bad_paths_and_options_before_starting_ray(paths, tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "no such run, checkpoint or module directory" in capsys.readouterr().err
    assert main(["serve", str(paths["pt2"]), "--max-flow-steps", "8"]) == 2
    assert "max_flow_steps can be set only when serving a checkpoint" in capsys.readouterr().err
    assert main(["serve", str(paths["run"]), "--flow-steps", "7", "--max-flow-steps", "3"]) == 2
    assert "default budget" in capsys.readouterr().err
    assert main(["serve", str(paths["run"]), "--max-batch-size", "0"]) == 2
    assert "max_batch_size must be an int >= 1, got 0" in capsys.readouterr().err
    from vgf_rllib.serve import ServeOptions
    with pytest.raises(ValueError, match="unknown serving option 'max_batch'"):
        ServeOptions.from_dict({"checkpoint": "x", "max_batch": 4})
    assert ServeOptions.from_dict({"checkpoint": "x", "max_batch_size": "4"}).max_batch_size == 4


def test_cli_listens_on_127_0_0_1_by_default_and_stops_on_ctrl_c(paths):
    port = free_port()
    env = {**os.environ, "RAY_ADDRESS": "local"}  # its own Ray, never the test session's
    server = subprocess.Popen(
        [sys.executable, "-m", "vgf_rllib.cli", "serve", str(paths["pt2"]), "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        first = server.stdout.readline()
        assert f"at http://127.0.0.1:{port}" in first, first
        listening = {c.laddr.ip for c in psutil.net_connections("tcp")
                     if c.laddr.port == port and c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}
        status, body = act(f"http://127.0.0.1:{port}", observations=[0.1, 0.2, 0.3], seed=1)
        assert status == 200 and len(body["actions"]) == 1
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=120) == 0
        assert server.stdout.read().strip().splitlines()[-1] == "stopped serving"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def urls(ray_session: None, paths: dict[str, Path]) -> dict[str, str]:
    """One Serve instance on 127.0.0.1 with an app per input form, at /run, /checkpoint, /pt2;
    replicas reserve no CPU (the session's Ray has 2); batches wait 50 ms to fill."""
    from ray import serve

    from vgf_rllib.serve import ServeOptions, build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    for name, path in paths.items():
        options = ServeOptions(
            checkpoint=str(path), num_cpus=0, batch_wait_ms=50, max_observations=MAX_OBSERVATIONS
        )
        serve.run(build_app(options), name=name, route_prefix=f"/{name}")
    yield {name: f"http://127.0.0.1:{port}/{name}" for name in paths}
    serve.shutdown()


@pytest.mark.parametrize("form", ["run", "checkpoint", "pt2"])
def test_seeded_answer_is_the_python_call_in_env_units(urls, paths, form):
    obs = observations(0, 3)
    budget = EXPORTED if form == "pt2" else {"flow_steps": 1, "num_particles": 6}
    status, body = act(urls[form], observations=obs.tolist(), seed=11, **budget)
    assert status == 200, body
    expected, _ = python_actions(paths["run"] if form == "pt2" else paths[form], obs, 11, **budget)
    np.testing.assert_allclose(body["actions"], expected, atol=1e-5)
    assert np.abs(expected).max() > 1.0  # env units: Pendulum's torque bound is 2
    assert (body["flow_steps"], body["num_particles"], body["seed"]) == (
        budget["flow_steps"], budget["num_particles"], 11)
    status, flat = act(urls[form], observations=obs[0].tolist(), seed=11, **budget)
    single, _ = python_actions(paths["run"] if form == "pt2" else paths[form], obs[:1], 11, **budget)
    np.testing.assert_allclose(flat["actions"], single[0], atol=1e-5)  # a flat state: a flat answer


def test_info_and_health(urls):
    status, info = call(f"{urls['run']}/info")
    assert status == 200
    assert (info["observation_shape"], info["action_low"], info["action_high"]) == ([3], [-2.0], [2.0])
    assert info["default_budget"] == TRAINED
    assert info["limits"]["max_flow_steps"] == 5 and info["limits"]["max_particles"] == 16
    assert info["run"]["dataset"] == "random:Pendulum-v1-2"
    status, info = call(f"{urls['pt2']}/info")
    assert info["default_budget"] == EXPORTED and info["artifact"]["format"] == "vgf-acting-path/1"
    assert call(f"{urls['pt2']}/healthz") == (200, {"status": "ok"})


def test_per_request_budget_acts_as_the_python_call(urls, paths):
    obs = observations(1, 4)
    answers = {}
    for budget in ({"flow_steps": 0}, {"flow_steps": 3}, {"flow_steps": "auto"},
                   {"flow_steps": 1, "num_particles": 2}, {"flow_steps": 1, "num_particles": 16}):
        status, body = act(urls["run"], observations=obs.tolist(), seed=5, **budget)
        assert status == 200, body
        expected, steps = python_actions(paths["run"], obs, 5, **budget)
        np.testing.assert_allclose(body["actions"], expected, atol=1e-5)
        assert body["steps_taken"] == steps.tolist()
        answers[json.dumps(budget)] = expected
    assert not np.allclose(answers['{"flow_steps": 0}'], answers['{"flow_steps": 3}'])


def test_concurrent_requests_batch_only_with_their_own_budget(urls, paths):
    budgets = [{"flow_steps": 0}, {"flow_steps": 3}, {"flow_steps": "auto"}, {"num_particles": 8}]
    jobs = [(i, budgets[i % 4], observations(100 + i, 1 + i % 3)) for i in range(24)]

    def send(job):
        seed, budget, obs = job
        return act(urls["run"], observations=obs.tolist(), seed=seed, **budget)

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(send, jobs))
    for (seed, budget, obs), (status, body) in zip(jobs, results):
        assert status == 200, body
        expected, _ = python_actions(paths["run"], obs, seed, **budget)
        np.testing.assert_allclose(body["actions"], expected, atol=1e-5)
    assert max(body["batched_requests"] for _, body in results) > 1  # batching happened


GOOD = {"observations": [[0.1, 0.2, 0.3]]}
BAD_REQUESTS = [
    # app, body, status, words the error must contain
    pytest.param("run", b'{"observations": [[0.1, 0.2', 400, ["not valid JSON"], id="malformed-json"),
    pytest.param("run", b'[1, 2]', 400, ["JSON object", "[1, 2]"], id="not-an-object"),
    pytest.param("run", {"observations": [[0.1, 0.2]]}, 400, ["observations[0]", "3 numbers", "[0.1, 0.2]"], id="short-state"),
    pytest.param("run", {"observations": [[[0.1, 0.2, 0.3]]]}, 400, ["observations[0]", "3 numbers"], id="nested-too-deep"),
    pytest.param("run", {"observations": []}, 400, ["observations", "[]"], id="no-states"),
    pytest.param("run", b'{"observations": [[0.1, NaN, 0.3]]}', 400, ["observations[0][1]", "finite", "nan"], id="nan"),
    pytest.param("run", b'{"observations": [0.1, 0.2, -Infinity]}', 400, ["observations[2]", "finite", "-inf"], id="minus-infinity-flat"),
    pytest.param("run", {"observations": [[0.1, 1e39, 0.3]]}, 400, ["observations[0][1]", "float32"], id="float-beyond-float32"),
    pytest.param("run", {"observations": [[0.1, 0.2, -10**400]]}, 400, ["observations[0][2]", "float32"], id="int-beyond-float32"),
    pytest.param("run", {"observations": [[0.1, "0.2", 0.3]]}, 400, ["observations[0][1]", "number", '"0.2"'], id="string-number"),
    pytest.param("run", {**GOOD, "flow_steps": "3"}, 400, ["flow_steps", '"3"'], id="flow-steps-string"),
    pytest.param("run", {**GOOD, "flow_steps": 6}, 400, ["flow_steps", "6", "max_flow_steps=5"], id="flow-steps-above-limit"),
    pytest.param("run", {**GOOD, "num_particles": 17}, 400, ["num_particles", "17", "max_particles=16"], id="particles-above-limit"),
    pytest.param("run", {**GOOD, "num_particles": 0}, 400, ["num_particles", "0"], id="particles-zero"),
    pytest.param("run", {**GOOD, "seed": -1}, 400, ["seed", "-1"], id="seed-negative"),
    pytest.param("run", {**GOOD, "seed": 1.5}, 400, ["seed", "1.5"], id="seed-float"),
    pytest.param("run", {**GOOD, "temperature": 0.1}, 400, ["unknown field", "temperature"], id="unknown-field"),
    pytest.param("run", {"observations": [[0.0] * 3] * (MAX_OBSERVATIONS + 1)}, 413, ["observations", "9 states", "max_observations=8"], id="too-many-states"),
    pytest.param("pt2", {**GOOD, "flow_steps": 3}, 400, ["flow_steps", "3", "fixed budget"], id="pt2-other-flow-steps"),
    pytest.param("pt2", {**GOOD, "num_particles": 5}, 400, ["num_particles", "5", "fixed budget"], id="pt2-other-particles"),
]


@pytest.mark.parametrize("app, body, status, words", BAD_REQUESTS)
def test_bad_request_gets_a_4xx_naming_the_field_and_the_server_keeps_serving(urls, app, body, status, words):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, answer = call(f"{urls[app]}/act", raw)
    assert got == status, answer
    assert all(word in answer["error"] for word in words), answer["error"]
    assert act(urls[app], **GOOD)[0] == 200


def test_unknown_route_is_a_404(urls):
    status, answer = call(f"{urls['run']}/predict")
    assert status == 404 and "POST /act" in answer["error"]


def test_killed_replica_is_replaced_and_no_answer_is_crossed(urls, paths):
    """4 clients send seeded requests with known answers for at most 90 s while the replica is
    killed: every answer is its own request's or a 5xx, and answers come back afterwards."""
    import ray

    known = [(seed, observations(200 + seed, 2)) for seed in range(8)]
    expected = {seed: python_actions(paths["run"], obs, seed)[0] for seed, obs in known}
    replica = next(name for name in ray.util.list_named_actors(all_namespaces=True)
                   if isinstance(name, dict) and name["name"].startswith("SERVE_REPLICA::run#"))
    results: list[tuple[float, int, int, Any]] = []
    killed_at: list[float] = []
    deadline = time.monotonic() + 90

    def client(offset: int) -> None:
        count = 0
        while time.monotonic() < deadline and count < 60:
            seed, obs = known[(offset + count) % len(known)]
            status, body = act(urls["run"], observations=obs.tolist(), seed=seed)
            results.append((time.monotonic(), seed, status, body))
            count += 1
            recovered = killed_at and sum(s == 200 and t > killed_at[0] + 1 for t, _, s, _ in results) >= 8
            if recovered:
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    while len(results) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at.append(time.monotonic())
    ray.kill(ray.get_actor(replica["name"], namespace=replica["namespace"]), no_restart=True)
    for thread in threads:
        thread.join(timeout=120)
    failures = [(status, body) for _, _, status, body in results if status != 200]
    for _, seed, status, body in results:
        if status == 200:
            np.testing.assert_allclose(body["actions"], expected[seed], atol=1e-5)
            assert body["seed"] == seed
    assert all(status >= 500 for status, _ in failures), failures
    assert sum(status == 200 and t > killed_at[0] + 1 for t, _, status, _ in results) >= 8, failures
    assert call(f"{urls['run']}/healthz") == (200, {"status": "ok"})
