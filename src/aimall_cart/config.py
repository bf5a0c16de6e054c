"""Settings: the only reader of the environment (prefix ``AIMALL_CART_``, also a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, Request
from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aimall_cart.crypto import KeyRing, key_ring

# Development defaults are public knowledge, so production refuses to start with them.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_TOKEN_HASH_KEY = "dev-only-token-hash-key-change-me-0123456789"  # noqa: S105
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret-change-me-0123456789"  # noqa: S105
DEV_DATA_KEY = "dev-only-data-key-change-me-0123456789abcdefgh"
DEV_DATA_KEYS = f"dev:{DEV_DATA_KEY}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIMALL_CART_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refusal must never echo the values it refused: they are secrets.
        hide_input_in_errors=True,
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./aimall_cart.db"
    # Per process: what one process keeps busy at once on two cores. Requests beyond it wait
    # for a pooled connection instead of opening one per burst.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # Threads that read SQLite for the hot path; WAL lets them read beside the writer.
    sqlite_reader_threads: int = Field(default=4, ge=1)
    # Per process: requests worked on at once. Later ones wait their turn, first come first
    # served, and are answered 503 after the timeout (middleware.InFlightLimit).
    max_requests_in_flight: int = Field(default=32, ge=1)
    request_queue_timeout_seconds: float = Field(default=10.0, gt=0)

    test_clock: bool = False
    reservation_ttl_seconds: int = Field(default=900, ge=1)
    order_webhook_url: str | None = None
    order_webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_base_seconds: float = Field(default=2.0, gt=0)
    outbox_lease_seconds: int = Field(default=60, ge=1)

    recovery_interval_seconds: int = Field(default=60, ge=1)
    recovery_batch_size: int = Field(default=250, ge=1, le=5000)
    recovery_gross_margin_percent: int = Field(default=30, ge=1, le=100)
    # The policy learns from messages settled in this many recent days: long enough for
    # thousands of outcomes, short enough to follow a shop whose customers change.
    recovery_learning_window_days: int = Field(default=90, ge=1, le=3650)
    recovery_webhook_url: str | None = None
    recovery_webhook_secret: str = DEV_WEBHOOK_SECRET
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sender: str = "AIMall <no-reply@aimall.example>"
    public_base_url: str = "http://127.0.0.1:8000"
    # The key ring that seals personal data at rest: ``kid:secret,...``, the first the primary.
    data_keys: str = Field(default=DEV_DATA_KEYS, repr=False)
    key_rotation_batch_size: int = Field(default=500, ge=1, le=10_000)

    guest_retention_days: int = Field(default=30, ge=1)
    archive_retention_days: int = Field(default=365, ge=1)
    message_retention_days: int = Field(default=180, ge=1)
    event_retention_days: int = Field(default=90, ge=1)
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)

    health_database_timeout_seconds: float = Field(default=2.0, gt=0)
    # The folder where every process of one ``serve`` counts its metrics; ``serve`` makes one
    # when it is unset. prometheus-client's own variable names it too.
    metrics_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "AIMALL_CART_METRICS_DIR", "PROMETHEUS_MULTIPROC_DIR", "metrics_dir"
        ),
    )

    # Analytics: figures trail the event log by at most this long (the worker's roll-up period
    # is half of it); a seller never sees a figure drawn from fewer distinct carts than this.
    analytics_lag_seconds: int = Field(default=10, ge=2)
    seller_min_group: int = Field(default=5, ge=2)

    embedded_worker: bool = True
    worker_tick_seconds: float = Field(default=1.0, gt=0)

    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"

    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # No member token may live longer than this, whatever its exp says (the CLI issues 24 h ones).
    jwt_max_lifetime_seconds: int = Field(default=24 * 3600, ge=60)
    token_hash_key: str = DEV_TOKEN_HASH_KEY

    rate_limit_enabled: bool = True
    rate_limit_anonymous_per_minute: int = Field(default=120, ge=1)
    rate_limit_guest_per_minute: int = Field(default=300, ge=1)
    rate_limit_member_per_minute: int = Field(default=600, ge=1)
    # Each checkout start holds stock for the reservation TTL: the cheapest way to hoard it.
    rate_limit_checkout_per_minute: int = Field(default=20, ge=1)
    redis_url: str | None = None
    # Units of one variant a single cart may hold in a reservation: a few carts cannot lock a
    # product's whole stock away from everyone else.
    max_reserved_units_per_variant: int = Field(default=50, ge=1)

    idempotency_ttl_hours: int = Field(default=24, ge=1)
    idempotency_lock_seconds: int = Field(default=60, ge=1)

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    max_lines_per_cart: int = Field(default=100, ge=1)
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")

    @field_validator("order_webhook_url", "recovery_webhook_url")
    @classmethod
    def _webhook_is_a_web_address(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            name = f"AIMALL_CART_{str(info.field_name).upper()}"
            raise ValueError(f"{name} must be an http:// or https:// URL")
        return url or None

    @field_validator("data_keys")
    @classmethod
    def _data_keys_form_a_ring(cls, spec: str) -> str:
        try:
            key_ring(spec)
        except ValueError as error:
            raise ValueError(f"AIMALL_CART_DATA_KEYS: {error}") from None
        return spec

    @model_validator(mode="after")
    def _no_smtp_login_in_the_clear(self) -> Settings:
        if self.smtp_username and not self.smtp_starttls:
            raise ValueError("AIMALL_CART_SMTP_USERNAME needs AIMALL_CART_SMTP_STARTTLS=true")
        return self

    @model_validator(mode="after")
    def _refuse_weak_production_settings(self) -> Settings:
        if self.env == "production" and (problems := production_problems(self)):
            raise ValueError("; ".join(problems))
        return self

    @property
    def keys(self) -> KeyRing:
        """The data key ring (parsed once per distinct setting)."""
        return key_ring(self.data_keys)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


MIN_KEY_BYTES = 32
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", ""})  # noqa: S104


def production_problems(settings: Settings) -> list[str]:
    """Why these settings are not fit for production; each names a setting, never its value."""
    problems = [
        f"AIMALL_CART_{name} must be set in production (not the development default)"
        for name, value, default in _secrets(settings)
        if value == default
    ]
    problems += [
        f"AIMALL_CART_{name} must be at least {MIN_KEY_BYTES} characters long"
        for name, value, default in _secrets(settings)
        if value != default and len(value.encode()) < MIN_KEY_BYTES
    ]
    if settings.test_clock:
        problems.append("AIMALL_CART_TEST_CLOCK must never be on in production")
    if not _is_public_https(settings.public_base_url):
        problems.append("AIMALL_CART_PUBLIC_BASE_URL must be an https:// address of a real host")
    for name, url in (
        ("ORDER_WEBHOOK_URL", settings.order_webhook_url),
        ("RECOVERY_WEBHOOK_URL", settings.recovery_webhook_url),
    ):
        if url and not url.startswith("https://"):
            problems.append(f"AIMALL_CART_{name} must be an https:// URL in production")
    return problems


def _secrets(settings: Settings) -> list[tuple[str, str, str]]:
    """(setting name, value, development default) of every secret in use."""
    found = [
        ("TOKEN_HASH_KEY", settings.token_hash_key, DEV_TOKEN_HASH_KEY),
    ]
    found += [
        (f"DATA_KEYS (key {kid})", secret, DEV_DATA_KEY) for kid, secret in settings.keys.keys
    ]
    if settings.jwt_public_key is None:
        found.append(("JWT_SECRET", settings.jwt_secret, DEV_JWT_SECRET))
    if settings.order_webhook_url:
        found.append(("ORDER_WEBHOOK_SECRET", settings.order_webhook_secret, DEV_WEBHOOK_SECRET))
    if settings.recovery_webhook_url:
        secret = settings.recovery_webhook_secret
        found.append(("RECOVERY_WEBHOOK_SECRET", secret, DEV_WEBHOOK_SECRET))
    return found


def _is_public_https(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host not in _LOCAL_HOSTS and not host.startswith("127.")


@lru_cache
def get_settings() -> Settings:
    return Settings()


async def _app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(_app_settings)]
