"""HTTP tools: a GET that raises on network failures (and, by default, error statuses) so retries apply."""

from __future__ import annotations

import httpx
from hopflow.tasks.tools.registry import ToolContext, tool
from pydantic import BaseModel, ConfigDict, Field, field_validator


class GetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    headers: dict[str, str] | None = None
    timeout: float = Field(default=30.0, gt=0, description="seconds for connect, read and write each")
    raise_for_status: bool = Field(
        default=True,
        description="raise on 4xx/5xx so the step fails (and retries), not pass an error page on",
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        try:
            scheme = httpx.URL(value).scheme
        except httpx.InvalidURL as exc:
            raise ValueError(f"url {value!r} is not a valid URL: {exc}") from None
        if scheme not in ("http", "https"):
            raise ValueError(f"url {value!r} must be http:// or https://")
        return value


def idempotent_headers(headers: dict[str, str] | None, ctx: ToolContext) -> dict[str, str]:
    """The step's headers plus `Idempotency-Key: <step id>:<attempt>` (a header the step set wins)."""
    merged = dict(headers or {})
    if ctx.idempotency_key and not any(k.lower() == "idempotency-key" for k in merged):
        merged["Idempotency-Key"] = ctx.idempotency_key
    return merged


class GetOutput(BaseModel):
    status_code: int
    text: str
    headers: dict[str, str]


@tool("http.get", retries=2, retry_delay_seconds=1.0)
def http_get(params: GetInput, ctx: ToolContext) -> GetOutput:
    """GET a URL and return its status, body text and headers."""
    with httpx.Client(timeout=params.timeout, follow_redirects=True) as client:
        response = client.get(params.url, headers=idempotent_headers(params.headers, ctx))
    if params.raise_for_status:
        response.raise_for_status()
    return GetOutput(status_code=response.status_code, text=response.text, headers=dict(response.headers))
