"""The service's HTTP server (DESIGN §3, `DOZOR_HTTP_PORT`): `/healthz`, and the webhook routes
that front ends add (Telegram's webhook, Slack's `/slack/events`)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("dozor.http")

MAX_BODY = 2_000_000
Health = Callable[[], Awaitable[dict[str, object]]]


class HttpServer:
    def __init__(
        self,
        *,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104 - a container's port is published on purpose
        health: Health,
        metrics: Callable[[], Awaitable[tuple[bytes, str]]] | None = None,
    ) -> None:
        self.app = web.Application(client_max_size=MAX_BODY)
        self._port = port
        self._host = host
        self._health = health
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.app.router.add_get("/healthz", self._healthz)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._serve_metrics)

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._runner is not None
        site = next(iter(self._runner.sites))
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    def add_telegram_webhook(
        self, path: str, secret: str, feed: Callable[[dict[str, object]], Awaitable[None]]
    ) -> None:
        """POST `path`: an update from Telegram, accepted only with the right secret header."""

        async def handle(request: web.Request) -> web.Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("webhook call with a wrong secret refused")
                return web.Response(status=401, text="unauthorized")
            try:
                data = await request.json(loads=json.loads)
            except (ValueError, UnicodeDecodeError):
                return web.Response(status=400, text="not JSON")
            if not isinstance(data, dict):
                return web.Response(status=400, text="not an update")
            await feed(data)
            return web.Response(text="ok")

        self.app.router.add_post(path, handle)

    def add_slack_events(
        self, path: str, handle: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> None:
        """POST `path`: Slack's signed requests (the handler verifies the signature)."""
        self.app.router.add_post(path, handle)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        log.info("HTTP server on port %d", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        assert self._metrics is not None
        body, content_type = await self._metrics()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        report = await self._health()
        status = 200 if report.get("ok") else 503
        return web.json_response(report, status=status)
