"""hopflow's settings: read from the environment (and an optional .env), validated once.

Nothing here touches the disk or the network; `get_settings()` builds the object on first use.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite:///./hopflow.db"


class PromptStorage(StrEnum):
    """How much of a prompt and an LLM answer hopflow keeps (seed 002 wins over 000: none)."""

    NONE = "none"
    REDACTED = "redacted"
    FULL = "full"


class LLMProviderName(StrEnum):
    OFFLINE = "offline"
    OPENAI = "openai"


class ReflectMode(StrEnum):
    """What hopflow writes after each mission (HOPFLOW_REFLECT): nothing, a raw summary, or also an LLM's."""

    OFF = "off"
    RAW = "raw"
    LLM = "llm"


class SettingsError(ValueError):
    """A setting has a value hopflow cannot use; the message names the variable."""


@lru_cache(maxsize=64)  # every unit of work asks for its engine by URL: parse each URL once
def normalise_database_url(raw: str) -> str:
    """Check a database URL and pin the PostgreSQL driver to psycopg 3.

    Raises SettingsError naming HOPFLOW_DATABASE_URL for anything that is not a SQLite or
    PostgreSQL URL, so a typo fails at start-up instead of at the first query.
    """
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise SettingsError(f"HOPFLOW_DATABASE_URL: cannot parse {raw!r} as a database URL ({exc})") from exc
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise SettingsError(
                f"HOPFLOW_DATABASE_URL: SQLite driver {driver!r} is not supported; use sqlite:///"
            )
        return url.render_as_string(hide_password=False)
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise SettingsError(
                f"HOPFLOW_DATABASE_URL: PostgreSQL driver {driver!r} is not supported; "
                "use postgresql+psycopg:// (psycopg 3)"
            )
        if not url.database:
            raise SettingsError(f"HOPFLOW_DATABASE_URL: {raw!r} names no database")
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise SettingsError(
        f"HOPFLOW_DATABASE_URL: backend {backend!r} is not supported; use sqlite:/// or postgresql+psycopg://"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOPFLOW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = DEFAULT_DATABASE_URL
    logs: Path = Path(".hopflow/logs")
    uploads: Path = Path(".hopflow/uploads")
    data: Path = Path(".hopflow/data")
    prompt_storage: PromptStorage = PromptStorage.NONE
    debug_redacted_mode: bool = Field(
        default=False, validation_alias=AliasChoices("DEBUG_REDACTED_MODE", "HOPFLOW_DEBUG_REDACTED_MODE")
    )
    # Asset content above this many bytes is written under `data` and referenced by content_ref.
    inline_limit_bytes: int = Field(default=64 * 1024, ge=0)
    # Which finished assets get their own Markdown artifact in the Prefect UI: each one costs the
    # Prefect server a write (about as much as the step itself); the mission's table lists them all.
    asset_artifacts: Literal["outputs", "all", "none"] = "outputs"
    llm_provider: LLMProviderName = LLMProviderName.OFFLINE
    llm_base_url: str = "https://api.openai.com/v1"
    llm_api_key: SecretStr | None = None
    llm_model: str = "offline-echo-1"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    # The offline provider's chat script (tool calls to answer with): tests, demos, examples/living.
    llm_script: Path | None = None
    webhook_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    reflect: ReflectMode = ReflectMode.RAW
    # When set, `hopflow serve` prunes what finished missions and runs left older than this, daily.
    retention_days: int | None = Field(default=None, ge=1)

    # A mission's runner holds a lease this long and renews it every third of it; a runner that
    # died (SIGKILL) is taken over once its lease has expired.
    mission_lease_seconds: float = Field(default=60.0, gt=0)

    # How long a Standard Webhooks `webhook-id` is remembered per route (a replay within it gets the
    # first answer); at least the 5-minute signature tolerance, after which a replay fails its timestamp.
    webhook_replay_retention_seconds: int = Field(default=24 * 3600, ge=300)
    # `hopflow serve` waits out a Prefect API outage, retrying with backoff up to this many seconds apart.
    serve_retry_max_seconds: float = Field(default=30.0, gt=0)
    # The whole body must arrive within this: a sender trickling bytes is dropped with 408.
    webhook_body_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            return normalise_database_url(value)
        except SettingsError as exc:
            raise ValueError(str(exc)) from exc

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
