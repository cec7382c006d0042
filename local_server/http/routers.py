"""Routers that say which task their routes serve, so the app needs no list of routes.

Every dialect exports ``TaskRouter``s; the composition root includes them and reads, from the routers
themselves, which route serves which task (the console's throughput and latency charts) and the OpenAPI tags.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.routing import APIRoute

Task = Literal["embed", "rerank", "tokenize", "meta"]
TASKS: tuple[Task, ...] = ("embed", "rerank", "tokenize", "meta")


class TaskRouter(APIRouter):
    """An ``APIRouter`` whose routes all serve one ``task``; its first tag names the dialect in the OpenAPI page."""

    def __init__(self, task: Task, *, tags: list[str], **kwargs: Any):
        super().__init__(tags=list(tags), **kwargs)
        self.task: Task = task

    @property
    def dialect(self) -> str:
        return str(self.tags[0])


def route_label(route: Any) -> str:
    """A route's name in the metrics and the console's charts: its path, except that ``/`` is both the landing
    page (GET, no task) and TEI's root (POST, a model route), so the latter is ``POST /``."""
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    return "POST /" if path == "/" and "POST" in (getattr(route, "methods", None) or ()) else path


def task_of_routes(routers: Iterable[TaskRouter]) -> dict[str, Task]:
    """Route label (``route_label``) -> task, for every route of ``routers`` (aliases included)."""
    return {route_label(route): router.task for router in routers for route in router.routes
            if isinstance(route, APIRoute)}


def openapi_tags(routers: Iterable[TaskRouter]) -> list[dict[str, str]]:
    """The OpenAPI page's tag list, in the routers' order: each dialect with the tasks its routes serve."""
    tasks: dict[str, list[str]] = {}
    for router in routers:
        served = tasks.setdefault(router.dialect, [])
        if router.task not in served:
            served.append(router.task)
    return [{"name": name, "description": "task: " + ", ".join(served)} for name, served in tasks.items()]
