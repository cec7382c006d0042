"""Request lifecycle pieces that need raw ASGI: dropping work of clients that went away, and draining.

- ``CancelOnDisconnect``: when a client disconnects before its response starts, the handler is cancelled,
  which cancels its queued inputs (the batcher skips cancelled inputs), so abandoned work never runs.
- ``DrainingServer``: on SIGTERM/SIGINT it marks the app as draining (new requests get a JSON 503 and
  readiness turns 503) and lets uvicorn finish the accepted requests before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

log = logging.getLogger("bge_local.lifecycle")


class CancelOnDisconnect:
    def __init__(self, app: Any, on_cancel: Any = None):
        self.app = app
        self.on_cancel = on_cancel

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
        disconnected = asyncio.Event()
        started = False

        async def replay() -> dict:
            if messages:
                return messages.pop(0)
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, replay, tracked_send))

        async def watch() -> None:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                if not started and not task.done():
                    task.cancel()
                    if self.on_cancel is not None:
                        self.on_cancel(scope)

        watcher = asyncio.ensure_future(watch())
        try:
            await task
        except asyncio.CancelledError:
            if not disconnected.is_set():
                raise
        finally:
            watcher.cancel()


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app_state: Any):
        super().__init__(config)
        self.app_state = app_state

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not getattr(self.app_state, "draining", False):
            log.info("signal %s: draining — finishing accepted requests, refusing new ones", sig)
        self.app_state.draining = True
        super().handle_exit(sig, frame)
