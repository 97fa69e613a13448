"""Server settings: one object, built from the environment, with documented defaults.

Every field has an environment variable `PICDROP_<NAME>` and a `picdrop-server serve --<name>`
flag; `docs/CONFIG.md` lists them (generated from `FIELDS` by `python -m backend settings`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from backend.expiry import EXPIRY_CHOICES, EXPIRY_NAMES_TEXT

S3_SERVE_CHOICES = ("stream", "redirect")
MIN_ADMIN_TOKEN = 32
# Placeholders shipped in deploy/ (tested): a copied example must not open the admin API.
EXAMPLE_ADMIN_TOKENS = frozenset({"change-me-to-a-long-random-string"})
LOG_FORMATS = ("text", "json")


def _doc(text: str, **kw: Any) -> Any:
    return field(metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _doc(  # noqa: RUF009 (_doc returns a dataclasses.field)
        "Where the SQLite catalog, the blobs and temporary files live.",
        default_factory=lambda: Path(platformdirs.user_data_dir("picdrop-server")),
    )
    host: str = _doc("Address to listen on.", default="127.0.0.1")
    port: int = _doc("Port to listen on (0 picks a free one).", default=8000)
    public_url: str = _doc(
        "Base URL that links are built on (set it in production). "
        "Empty: the scheme and host the request came to.",
        default="",
    )
    admin_token: str = _doc(
        "Bearer token for the /api/admin endpoints. Empty: admin API disabled.", default=""
    )
    database_url: str = _doc(
        "SQLAlchemy URL of the catalog. Empty: SQLite file in the data dir.", default=""
    )
    storage_url: str = _doc(
        "Blob store: a directory path, file://..., or s3://bucket/prefix. Empty: DATA_DIR/blobs.",
        default="",
    )
    s3_endpoint_url: str = _doc(
        "Endpoint of an S3-compatible store (MinIO, R2...). Empty: AWS.", default=""
    )
    s3_region: str = _doc(
        "Region of the S3 bucket. Empty: AWS_REGION / the AWS config, else us-east-1.", default=""
    )
    s3_access_key_id: str = _doc(
        "S3 access key. Empty: the usual AWS chain (AWS_ACCESS_KEY_ID, ~/.aws, instance role).",
        default="",
    )
    s3_secret_access_key: str = _doc(
        "S3 secret key (prefer the environment over the command line). Empty: the AWS chain.",
        default="",
    )
    s3_serve: str = _doc(
        "How images in S3 reach clients: 'stream' (through the app, with all its headers) or "
        "'redirect' (302 to a presigned URL, or to S3_PUBLIC_URL when set).",
        default="stream",
    )
    s3_public_url: str = _doc(
        "With S3_SERVE=redirect: public base URL of the bucket (a CDN); objects are linked as "
        "BASE/<object key>. Empty: presigned URLs.",
        default="",
    )
    s3_presign_seconds: int = _doc(
        "Lifetime of presigned URLs given out by S3_SERVE=redirect.", default=3600
    )
    storage_fallback_url: str = _doc(
        "A second blob store that reads fall back to (while migrate-storage copies the blobs "
        "over to STORAGE_URL). Empty: none.",
        default="",
    )
    x_accel_redirect: str = _doc(
        "Internal nginx location (e.g. /_picdrop_blobs/) that maps to the filesystem blob "
        "store: images are answered with X-Accel-Redirect and nginx sends the file. "
        "Only behind nginx configured for it. Empty: the app sends the bytes.",
        default="",
    )
    database_pool_size: int = _doc(
        "Database connections kept open per process (as many more may be opened under load).",
        default=10,
    )
    ratelimit_url: str = _doc(
        "Storage of the rate limits: memory:// or redis://host:port.", default="memory://"
    )
    max_bytes: int = _doc("Largest accepted upload, in bytes.", default=25 * 1024 * 1024)
    max_side: int = _doc("Largest accepted width or height, in pixels.", default=16384)
    max_pixels: int = _doc("Largest accepted area of one frame, in pixels.", default=50_000_000)
    max_frames: int = _doc("Most frames accepted in an animation.", default=500)
    max_total_pixels: int = _doc(
        "Largest accepted sum of frame areas in an animation, in pixels.", default=500_000_000
    )
    id_length: int = _doc("Length of image IDs (base62; 10 gives 59 bits).", default=10)
    default_expiry: str = _doc(
        f"Expiry of an upload that asks for none: {EXPIRY_NAMES_TEXT}.", default="never"
    )
    max_expiry: str = _doc(
        f"Longest expiry a client may ask for: {EXPIRY_NAMES_TEXT}.", default="never"
    )
    sweep_interval: int = _doc(
        "Seconds between sweeps of expired uploads and orphan blobs (0: never).", default=600
    )
    orphan_grace: int = _doc(
        "Seconds an unreferenced blob is kept before the sweep removes it "
        "(covers uploads still in flight).",
        default=3600,
    )
    workers: int = _doc("Image-processing jobs run at once (0: one per CPU core).", default=0)
    upload_memory: int = _doc(
        "Bytes of memory image work holds at once: each upload's body twice (as received and "
        "as stripped) plus its decoded pixels, each thumbnail's decoded pixels; others wait "
        "their turn, and an image that alone needs more is refused (422).",
        default=128 * 1024 * 1024,
    )
    cache_bytes: int = _doc(
        "Memory for the cache of hot image bytes served from the app.", default=64 * 1024 * 1024
    )
    log_requests: bool = _doc("Log one line per request (never the client address).", default=True)

    # -- abuse limits, moderation (docs/SECURITY.md) ------------------------------------------
    upload_rate: str = _doc(
        "Uploads allowed per client, in the `limits` notation ('30/minute;500/day'; "
        "'off': unlimited). Clients are told apart by a keyed hash of their address.",
        default="30/minute;500/day",
    )
    report_rate: str = _doc("Reports allowed per client ('off': unlimited).", default="10/hour")
    notfound_rate: str = _doc(
        "'Not found' answers allowed per client before it is refused with 429 "
        "(slows down ID guessing; 'off': unlimited).",
        default="100/minute",
    )
    trusted_proxies: str = _doc(
        "Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed "
        "(empty: none; the peer address is the client), and, without a public URL, their "
        "X-Forwarded-Proto and X-Forwarded-Host for the links the server builds.",
        default="",
    )
    secret_key: str = _doc(
        "Server secret; the day's rate-limit salt is derived from it, so replicas sharing a "
        "rate-limit storage must share it. Empty: a random one kept in DATA_DIR/secret_key.",
        default="",
    )
    scanner_url: str = _doc(
        "URL every new upload is POSTed to before it is published; a non-2xx answer refuses the "
        "upload (empty: no scanner).",
        default="",
    )
    scanner_timeout: int = _doc(
        "Seconds to wait for the scanner; no answer in time refuses the upload (503).", default=10
    )
    block_distance: int = _doc(
        "Largest Hamming distance (of 128 bits) between perceptual hashes at which an upload "
        "counts as a copy of removed content.",
        default=12,
    )
    fingerprint_at_upload: bool = _doc(
        "Compute every upload's perceptual hash before answering. Off (the default), it is "
        "computed at upload only while perceptual blocks exist (they need it to refuse copies) "
        "or a scanner is configured (it is sent the hash), "
        "and otherwise by a background pass within seconds, which also takes down any copy of "
        "content removed meanwhile.",
        default=False,
    )
    fingerprint_interval: int = _doc(
        "Seconds between background passes that compute the perceptual hashes left for later.",
        default=2,
    )
    retention: str = _doc(
        "Size-based retention like 0x0.st: 'MIN:MAX' (e.g. '30d:365d'); the largest files are "
        "kept MIN, tiny ones almost MAX. Empty: off.",
        default="",
    )
    read_timeout: int = _doc(
        "Seconds an upload body may stall (no bytes arriving) before the request is dropped.",
        default=60,
    )
    api_docs: bool = _doc(
        "Serve Swagger UI at /api/docs (it loads its scripts from a CDN, outside the pages' "
        "security policy). /openapi.json is served either way.",
        default=False,
    )
    decode_timeout: int = _doc(
        "Seconds of work checking an upload or making a thumbnail may take; a slower image is "
        "refused (422).",
        default=10,
    )
    terms: str = _doc(
        "Text of the terms of use page (/terms), plain text; a blank line starts a paragraph. "
        "Empty: a short text that says what may not be uploaded.",
        default="",
    )
    abuse_contact: str = _doc(
        "Where to report abuse besides each image's report form, shown on /abuse: an e-mail "
        "address or an https:// URL. Empty: the report form only.",
        default="",
    )
    metrics_port: int = _doc(
        "Port of the Prometheus endpoint (GET /metrics), a listener of its own beside the app's; "
        "0: off. Needs the `metrics` extra (prometheus-client).",
        default=0,
    )
    metrics_host: str = _doc(
        "Address the Prometheus endpoint listens on (keep it internal: nginx does not proxy it).",
        default="127.0.0.1",
    )
    log_format: str = _doc(
        "Server log lines: 'text', or 'json' (one JSON object a line; still no client addresses, "
        "delete tokens redacted).",
        default="text",
    )
    database_connect_timeout: int = _doc(
        "Seconds to wait for a new PostgreSQL connection; past it the request answers 503.",
        default=5,
    )
    database_statement_timeout: int = _doc(
        "Seconds one PostgreSQL statement may run before the server cancels it (503).",
        default=30,
    )
    database_pool_timeout: int = _doc(
        "Seconds a request waits for a free catalog connection when all are busy (then 503).",
        default=10,
    )
    database_startup_wait: int = _doc(
        "Seconds a starting server waits for an unreachable catalog database (trying again, "
        "a line each time) before it gives up; a replica started during an outage then comes up "
        "when the database does.",
        default=120,
    )
    ratelimit_timeout: int = _doc(
        "Seconds to wait for the rate-limit storage (Redis) to connect or answer; past it the "
        "request is let through (the limits fail open).",
        default=2,
    )
    s3_connect_timeout: int = _doc(
        "Seconds to wait for a connection to the S3 store (503 past it).", default=5
    )
    s3_read_timeout: int = _doc(
        "Seconds to wait for the S3 store to answer one request (503 past it).", default=10
    )
    s3_max_attempts: int = _doc(
        "Tries of one S3 request that failed on the way (a timeout, a 5xx), the first included.",
        default=3,
    )
    cluster: bool = _doc(
        "This server is one of several replicas sharing a database, a blob store and rate "
        "limits (docs/DEPLOY.md, scale-out): it refuses to start on SQLite, which would give it "
        "a catalog of its own.",
        default=False,
    )
    processes: int = _doc(
        "Server processes of `serve` (0: one per CPU core), sharing one listening socket, the "
        "catalog and the blobs. With more than one, memory:// rate limits and the upload memory "
        "are shared through a private directory in RAM (/dev/shm), removed at exit, and each "
        "caches its share of CACHE_BYTES.",
        default=0,
    )
    url_fetch_timeout: int = _doc(
        "Seconds an upload from a URL may take to fetch, redirects included (then refused).",
        default=20,
    )
    url_fetch_allow: str = _doc(
        "Exact address:port pairs ('127.0.0.1:8080, [::1]:9000') that uploads from a URL may "
        "fetch from although they are not public addresses. Empty: public addresses only.",
        default="",
    )

    # ------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `PICDROP_*` variables, then explicit overrides (e.g. CLI flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(env_name(f.name))
            if raw is not None and raw != "":
                values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())
        if self.s3_serve not in S3_SERVE_CHOICES:
            raise ValueError(
                f"{env_name('s3_serve')} must be one of {', '.join(S3_SERVE_CHOICES)}, "
                f"not {self.s3_serve!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise ValueError(
                f"{env_name('log_format')} must be one of {', '.join(LOG_FORMATS)}, "
                f"not {self.log_format!r}"
            )
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"{env_name('metrics_port')} must be between 0 and 65535")
        for name in ("default_expiry", "max_expiry"):
            if getattr(self, name) not in EXPIRY_CHOICES:
                raise ValueError(
                    f"{env_name(name)} must be one of {', '.join(EXPIRY_CHOICES)}, "
                    f"not {getattr(self, name)!r}"
                )
        from backend.abuse.ratelimit import parse_rate  # imports `limits`; keep settings light

        for name in ("upload_rate", "report_rate", "notfound_rate"):
            parse_rate(getattr(self, name), env_name(name))
        from backend.abuse.addresses import parse_networks
        from backend.retention import parse_retention

        parse_networks(self.trusted_proxies, env_name("trusted_proxies"))
        parse_retention(self.retention, env_name("retention"))
        from backend.abuse.destinations import parse_endpoints

        parse_endpoints(self.url_fetch_allow, env_name("url_fetch_allow"))
        if not 0 <= self.block_distance <= 64:
            raise ValueError(f"{env_name('block_distance')} must be between 0 and 64")
        check_admin_token(self.admin_token)
        if self.cluster and self.resolved_database_url.startswith("sqlite"):
            raise ValueError(
                f"{env_name('cluster')} is set but {env_name('database_url')} is not: a replica "
                "of a cluster needs the shared PostgreSQL database, not a SQLite file of its own"
            )

    # ------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'picdrop.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or str(self.data_dir / "blobs")

    @property
    def job_limit(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def process_count(self) -> int:
        return self.processes or os.cpu_count() or 1


def check_admin_token(token: str) -> None:
    """Empty turns the admin API off; anything else must be a real secret."""
    if not token:
        return
    if token in EXAMPLE_ADMIN_TOKENS:
        raise ValueError(
            f"{env_name('admin_token')} is still the example value from deploy/; "
            "set a random one (e.g. `openssl rand -hex 32`)"
        )
    if len(token) < MIN_ADMIN_TOKEN:
        raise ValueError(
            f"{env_name('admin_token')} is {len(token)} characters long; use at least "
            f"{MIN_ADMIN_TOKEN} random ones (e.g. `openssl rand -hex 32`)"
        )


def env_name(field_name: str) -> str:
    return "PICDROP_" + field_name.upper()


FIELDS = dataclasses.fields(Settings)


def _parse(f: dataclasses.Field[Any], raw: str) -> Any:
    kind = (
        f.type
        if isinstance(f.type, type)
        else {"int": int, "bool": bool, "Path": Path}.get(str(f.type), str)
    )
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError
            return low in {"1", "true", "yes", "on"}
        return kind(raw)
    except ValueError:
        raise ValueError(f"{env_name(f.name)}={raw!r} is not a valid {kind.__name__}") from None
