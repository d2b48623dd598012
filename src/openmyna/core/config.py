"""Typed settings, read once at start-up from ``OPENMYNA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything that differs between a laptop demo and a national deployment."""

    model_config = SettingsConfigDict(env_prefix="OPENMYNA_", extra="ignore")

    database_url: str = "sqlite:///var/openmyna.db"
    var_dir: Path = Path("var")
    data_key: SecretStr | None = Field(
        default=None,
        description="Base64 master key for field encryption; a key file under var/ is created when unset.",
    )
    base_url: str = "http://127.0.0.1:8000"
    municipality_code: str = "131016"
    access_token_ttl_seconds: int = 300
    session_https_only: bool = False
    session_idle_timeout_seconds: int = Field(
        default=1800, ge=60, description="A back-office session ends after this long without a request"
    )
    session_absolute_timeout_seconds: int = Field(
        default=8 * 3600, ge=60, description="A back-office session ends this long after login, however busy"
    )
    portal_reauth_seconds: int = Field(
        default=600, ge=0, description="Sensitive portal menus ask for the card again after this long"
    )
    portal_card_reader_url: str = Field(
        default="http://127.0.0.1:8765", description="The local card reader the portal's login page talks to"
    )
    login_account_failures: int = Field(
        default=5, ge=1, description="Failed logins to one account within the window that lock the account"
    )
    login_address_failures: int = Field(
        default=30, ge=1, description="Failed logins from one client address (any accounts) that lock the address"
    )
    login_failure_window_seconds: int = Field(default=900, ge=1, description="Failed logins are counted this long")
    login_lockout_seconds: int = Field(default=900, ge=1, description="A locked account or address waits this long")
    exchange_table_path: str | None = Field(default=None, description="Exchange table YAML (default: shipped)")
    procedures_dir: str | None = Field(
        default=None,
        description="Operator directory of procedure YAML (<municipality>/*.yaml) over the shipped catalogue",
    )
    worker_threads: int = Field(default=8, description="Threads per process for blocking (database) work")
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, description="On SIGTERM, in-flight requests get this long before the server exits"
    )
    network_retention_years: int = Field(default=7, description="Exchange records are kept this long (番号法)")
    network_publish_seconds: float = Field(default=2.0, description="Signed tree head interval; 0 disables")
    sql_echo: bool = False
    max_body_bytes: int = Field(default=1 << 20, ge=1, description="Largest request body accepted (else 413)")
    max_json_depth: int = Field(default=32, ge=1, description="Deepest nesting of a JSON body accepted (else 400)")
    corporate_rate_limit_per_second: int = Field(
        default=50, description="Requests a second one API token may make to /hojin and /4 (per process)"
    )
    queue_url: str | None = Field(
        default=None, description="redis://… for background work (notice fan-out, e-mail); in-process when unset"
    )
    queue_name: str = Field(default="openmyna:notices", description="Redis key prefix of the notice queue")
    notice_worker_threads: int = Field(default=1, ge=0, description="Queue workers in the web process (0: none)")
    smtp_host: str | None = Field(default=None, description="SMTP server for notice e-mails (none: not sent)")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "no-reply@openmyna.example"
    email_verification_ttl_seconds: int = Field(default=86400, ge=60, description="A verification link's life")
    kiosk_municipalities_dir: str | None = Field(
        default=None, description="Folder of municipality YAML files for convenience-store issuance (default: shipped)"
    )
    kiosk_centre_url: str | None = Field(
        default=None, description="The issuance centre a kiosk terminal calls over HTTP (unset: in this process)"
    )
    kiosk_municipality_url: str | None = Field(
        default=None, description="The municipal certificate server the centre calls over HTTP (unset: in this process)"
    )
    kiosk_enforce_hours: bool = Field(
        default=True,
        description="False only for a test or benchmark deployment: issue at any hour (never in production)",
    )
    kiosk_centre_org: str = Field(default="jlis", description="The organisation that runs the issuance centre")
    ocsp_cache_max_age_seconds: int = Field(
        default=60,
        ge=0,
        le=86400,
        description="Longest max-age on a cacheable OCSP answer: how long an HTTP cache in front may serve it after "
        "a revocation (RFC 5019; the answer's own nextUpdate is a day later)",
    )
    jpki_pkcs11_module: str | None = Field(default=None, description="PKCS#11 module for new CA keys (else key files)")
    jpki_pkcs11_token: str = "openmyna-jpki"
    jpki_pkcs11_pin: SecretStr | None = None

    @property
    def key_file(self) -> Path:
        return self.var_dir / "data.key"

    @property
    def uses_https(self) -> bool:
        """Served over https: HSTS is sent and every cookie is marked Secure (``core.headers``)."""
        return self.base_url.startswith("https://")

    @property
    def token_endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/oauth/token"
