"""Times the authors' jitted VGF update and acting (github.com/ryanxhr/vgf, a local checkout; nothing
of it is copied here) for ``throughput.py --reference``. Runs in the reference's own interpreter
(JAX, flax, optax, distrax, ml_collections; no torch, no Ray) and answers on stdout, one line per
command read from stdin, so that the caller can interleave its rounds with its own:

    update N   ->  "<wall seconds> <process CPU seconds>" for N updates (minibatch gather included)
    act N      ->  "<median ms>" of N single-state acting calls at L_test = 3 (an untrained agent
                   of the settings' ``acting_dims``: observation and action dims)

Usage (by throughput.py): python reference_worker.py DIR DATA.npz CONFIG_JSON
"""

from __future__ import annotations

import json
import statistics
import sys
import time


def main() -> None:
    reference, data_path, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, reference)
    import jax
    import jax.numpy as jnp
    import numpy as np
    from agents.vgf import VGFAgent, get_config

    config = get_config()
    config.value_hidden_dims = tuple(settings["hidden"])
    config.actor_hidden_dims = tuple(settings["hidden"])
    config.batch_size = settings["batch_size"]
    config.vgf_particles = settings["num_particles"]
    config.bc_flow_steps = settings["euler_steps"]
    config.train_vgf_steps = settings["train_flow_steps"]
    arrays = np.load(data_path)
    data = {key: jnp.asarray(arrays[key]) for key in ("observations", "actions", "rewards", "next_observations", "masks")}
    size = data["observations"].shape[0]
    agent = VGFAgent.create(0, arrays["observations"][:1], arrays["actions"][:1], config)

    @jax.jit
    def gather(key):
        index = jax.random.randint(key, (settings["batch_size"],), 0, size)
        return {name: value[index] for name, value in data.items()}

    key = jax.random.PRNGKey(1)

    def updates(count: int) -> None:
        nonlocal agent, key
        for _ in range(count):
            key, sub = jax.random.split(key)
            agent, _ = agent.update(gather(sub))
        jax.block_until_ready(agent.critic.params)

    obs_dim, action_dim = settings["acting_dims"]  # acting: an agent of these dims, untrained
    acting_agent = VGFAgent.create(0, np.zeros((1, obs_dim), np.float32), np.zeros((1, action_dim), np.float32), config)
    obs = jax.random.normal(jax.random.PRNGKey(3), (obs_dim,))

    def act() -> None:
        actions = acting_agent.sample_actions(obs, seed=jax.random.PRNGKey(2), eval_vgf_steps=3)
        jax.block_until_ready(actions)

    updates(2)  # compilation
    act()
    print("ready", flush=True)
    for line in sys.stdin:
        command, count = line.split()
        if command == "update":
            wall, cpu = time.perf_counter(), time.process_time()
            updates(int(count))
            print(time.perf_counter() - wall, time.process_time() - cpu, flush=True)
        else:  # act
            times = []
            for _ in range(int(count)):
                start = time.perf_counter()
                act()
                times.append(1e3 * (time.perf_counter() - start))
            print(statistics.median(times), flush=True)


if __name__ == "__main__":
    main()
