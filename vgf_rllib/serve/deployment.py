"""The Ray Serve deployment: HTTP routes of one replica and its dynamic batching.

Routes: ``POST /act``, ``GET /healthz``, ``GET /info``. Every refusal is a JSON body
``{"error": "..."}`` with a 4xx status; the replica keeps serving. Concurrent ``/act`` requests
are collected by ``@serve.batch`` and answered by :func:`vgf_rllib.serve.acting.act_orders`
(one acting call per budget), in a worker thread so that the next batch is collected meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

import torch
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from vgf_rllib.serve.acting import Order, act_orders, load_served_policy, order
from vgf_rllib.serve.options import ServeOptions
from vgf_rllib.serve.requests import RequestError, parse_act_request

ROUTES = ("POST /act", "GET /healthz", "GET /info")


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@serve.deployment
class PolicyServer:
    """One replica: loads the policy on its device, with ``options.threads`` torch threads."""

    def __init__(self, options: ServeOptions) -> None:
        torch.set_num_threads(options.threads)
        self.options = options
        self.policy = load_served_policy(options.checkpoint, device=options.device, **options.budget_options())
        self.act_batch.set_max_batch_size(options.max_batch_size)
        self.act_batch.set_batch_wait_timeout_s(options.batch_wait_ms / 1000)

    async def __call__(self, request: Request) -> JSONResponse:
        path = request.scope["path"][len(request.scope.get("root_path", "")):] or "/"
        route = f"{request.method} {path}"
        if route == "GET /healthz":
            return JSONResponse({"status": "ok"})
        if route == "GET /info":
            return JSONResponse({**self.policy.describe(), "serving": self.options.describe()})
        if route == "POST /act":
            return await self.act(request)
        return error(f"no route {route}; the routes are {', '.join(ROUTES)}", 404)

    async def act(self, request: Request) -> JSONResponse:
        try:
            parsed = parse_act_request(
                await request.body(), self.policy.observation_dim, self.options.max_observations
            )
            resolved = order(self.policy, parsed)
        except RequestError as refused:
            return error(str(refused), refused.status)
        return JSONResponse(await self.act_batch(resolved))

    @serve.batch(max_batch_size=ServeOptions.max_batch_size, batch_wait_timeout_s=0.0)
    async def act_batch(self, orders: list[Order]) -> list[dict[str, Any]]:
        return await asyncio.to_thread(act_orders, self.policy, orders)
