"""The client's settings, from the credentials a Dify user typed into the provider or model form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dify_plugin.errors.model import InvokeBadRequestError

from provider import endpoints as ep
from provider.client.kinds import SETTINGS, tagged

DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 2
DEFAULT_BATCH = 32
DEFAULT_CONTEXT = 8192  # bge-m3 and bge-reranker-v2-m3 take 8192 tokens


def number(credentials: Mapping[str, Any], key: str, default: float, label: str, minimum: float) -> float:
    """A number from the form (Dify sends strings); empty means the default. Refused with the field's label."""
    raw = credentials.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise tagged(InvokeBadRequestError, SETTINGS, f"{label} must be a number (got {raw!r}).") from None
    if not math.isfinite(value) or value < minimum:
        raise tagged(InvokeBadRequestError, SETTINGS, f"{label} must be at least {minimum:g} (got {raw!r}).")
    return value


def int_setting(credentials: Mapping[str, Any], key: str, default: int, label: str) -> int:
    """An integer model property from the credentials form (context size, batch size)."""
    return int(number(credentials, key, default, label, 1))


@dataclass(frozen=True)
class Settings:
    url: ep.ParsedURL
    url_text: str
    api_key: str
    dialect: str
    timeout: float
    retries: int
    batch_size: int | None
    served_model: str

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any], model: str, task: str) -> Settings:
        url_text = str(credentials.get("server_url") or "").strip()
        if task == ep.RERANK and str(credentials.get("rerank_server_url") or "").strip():
            url_text = str(credentials["rerank_server_url"]).strip()
        try:
            url = ep.parse_url(url_text)
        except ep.URLError as e:
            raise tagged(InvokeBadRequestError, SETTINGS, str(e)) from None
        dialect = str(credentials.get("api_dialect") or "auto").strip().lower()
        if dialect not in ep.DIALECTS:
            raise tagged(
                InvokeBadRequestError,
                SETTINGS,
                f"API dialect must be one of {', '.join(ep.DIALECTS)} (got {dialect!r}).",
            )
        batch = credentials.get("max_chunks")
        batch_size = int(number(credentials, "max_chunks", 0, "Batch size", 1)) if batch else None
        return cls(
            url=url,
            url_text=url_text,
            api_key=str(credentials.get("api_key") or "").strip(),
            dialect=dialect,
            timeout=number(credentials, "timeout", DEFAULT_TIMEOUT, "Timeout", 0.1),
            retries=int(number(credentials, "max_retries", DEFAULT_RETRIES, "Retries", 0)),
            batch_size=batch_size,
            served_model=str(credentials.get("served_model_name") or "").strip() or model,
        )
