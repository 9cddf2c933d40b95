"""clipray's configuration: one Settings object, read from ``CLIPRAY_*`` variables.

With nothing set, clipray runs on embedded defaults under ``CLIPRAY_HOME`` (``~/.clipray``):
a SQLite database, a local Ray head and an embedded S3 server (SeaweedFS). Point it at
production services by setting the endpoint variables::

    export CLIPRAY_DATABASE_URL=postgresql+psycopg://clipray@db/clipray
    export CLIPRAY_S3_ENDPOINT_URL=https://s3.us-east-1.amazonaws.com
    export CLIPRAY_RAY_ADDRESS=ray://head:10001

Nested settings use ``__``: ``CLIPRAY_STAGES__ASR__NUM_GPUS=1``.

    >>> from clipray.config import get_settings
    >>> get_settings().media_bucket
    'clipray-media'
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clipray.domain.publications import BACKOFF_S, CALL_TIMEOUT_S
from clipray.publish.base import PublishSettings
from clipray.stage_resources import StageResources, default_stages
from clipray.streams.clip_settings import StreamClipSettings
from clipray.streams.settings import IngestSettings

GiB = 1024**3
MiB = 1024**2


class Settings(BaseSettings):
    """Every knob of clipray. Each field is read from ``CLIPRAY_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="CLIPRAY_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    home: Path = Path("~/.clipray")
    """Data dir of the embedded defaults: database file, S3 data, pid and log files."""

    workspace: str = "local"
    """Slug of the workspace the CLI acts in; created on first use."""

    # --- database -------------------------------------------------------------------------
    database_url: str | None = None
    """SQLAlchemy URL. Unset: SQLite at ``{home}/clipray.db``. Production:
    ``postgresql+psycopg://user:password@host/db``."""

    # --- object storage -------------------------------------------------------------------
    s3_endpoint_url: str | None = None
    """S3 endpoint (AWS S3, R2, MinIO, SeaweedFS). Unset: the embedded SeaweedFS server."""
    s3_access_key_id: SecretStr | None = None
    """Access key for ``s3_endpoint_url``. Unset with an endpoint: boto3's own chain."""
    s3_secret_access_key: SecretStr | None = None
    """Secret key for ``s3_endpoint_url``."""
    s3_region: str = "us-east-1"
    """Region used to sign requests (R2 wants ``auto``)."""
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    """Bucket addressing: ``path`` works everywhere, AWS prefers ``virtual``."""
    media_bucket: str = "clipray-media"
    """Bucket of workspace media: sources, analysis artifacts, exports."""
    generated_bucket: str = "clipray-clips"
    """App-owned bucket of generated clips: counts against no quota, expires by policy.
    Empty: no generated clips are stored (jobs still analyse, choose and go to review)."""
    multipart_threshold: int = 8 * MiB
    """Uploads larger than this go multipart."""
    multipart_chunk_size: int = 8 * MiB
    """Part size of multipart uploads (S3 needs at least 5 MiB)."""
    presign_expiry_s: int = 3600
    """Lifetime of presigned GET and upload URLs."""
    max_upload_bytes: int = 20 * GiB
    """Largest video a presigned upload accepts; enforced by the signed policy."""
    max_request_bytes: int = Field(default=MiB, ge=1024)
    """Largest request body the HTTP API reads (413 ``PAYLOAD_TOO_LARGE`` above it): its
    bodies are small JSON, videos go straight to the bucket."""
    upload_content_types: tuple[str, ...] = (
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
        "audio/mpeg",
        "audio/mp4",
        "audio/x-m4a",
        "audio/aac",
        "audio/wav",
        "audio/x-wav",
        "audio/flac",
        "audio/x-flac",
        "audio/ogg",
        "audio/opus",
        "audio/webm",
    )
    """Content types a presigned upload may carry: videos, and audio files (podcast
    episodes, rendered as audiograms)."""
    embedded_s3_start_timeout_s: float = 60.0
    """How long ``clipray up`` waits for the embedded S3 server to become healthy."""
    embedded_s3_port: int | None = None
    """Port of the embedded S3 server, kept across restarts; unset: a free one each start."""

    # --- Ray ------------------------------------------------------------------------------
    ray_address: str | None = None
    """Ray cluster to join (``ray://host:10001`` or ``host:6379``). Unset: a local head."""
    ray_num_cpus: int | None = None
    """CPUs of the local head; unset lets Ray count them."""
    ray_include_dashboard: bool = True
    """Start the Ray dashboard with the local head (operators watch jobs there)."""
    ray_metrics_port: int | None = None
    """Port on which the local head exports Prometheus metrics (``--metrics-export-port``;
    clusters use 8080, see ``ray-cluster.yaml``); unset: Ray picks one."""
    otlp_endpoint: str | None = None
    """OTLP/HTTP collector (``http://collector:4318``) that job traces are sent to; unset:
    no tracing, at no cost."""
    job_step_timeout_s: float = 3600.0
    """How long a job step attempt may take before an operator should look: exported as
    ``clipray_job_step_timeout_seconds`` for the "job stuck" alert (nothing is killed)."""
    stages: dict[str, StageResources] = Field(default_factory=default_stages)
    """Resources per pipeline stage, e.g. ``CLIPRAY_STAGES__ASR__NUM_GPUS=1``."""

    # --- analysis -------------------------------------------------------------------------
    analysis_window_s: float = 60.0
    """Video seconds per analysis window (moved to the next keyframe): the unit of parallel
    work; results do not depend on it."""
    analysis_sample_fps: float = 2.0
    """Frames per second the face detector and the image embeddings see (scene detection
    sees every frame)."""
    asr_model: str = "bundled:tiny.en"
    """faster-whisper weights: ``bundled:tiny.en`` (offline, from the ml extra), a local
    CTranslate2 model dir, or a model name fetched from the hub (``large-v3``)."""
    asr_backend: Literal["faster-whisper", "whisperx"] = "faster-whisper"
    """``faster-whisper`` runs in clipray's environment; ``whisperx`` (forced alignment,
    diarization) runs its ASR actors in their own Ray runtime env (it pins torch 2.8)."""
    whisperx_model: str = "large-v3"
    """faster-whisper model name or local dir that the WhisperX backend loads."""
    face_weights: str = "bundled:nudenet-320n"
    """YOLO face weights: ``bundled:nudenet-320n`` (offline, from the ml extra) or a local
    ``.pt``/``.onnx`` file."""
    clip_model: str = "ViT-B-32"
    """open_clip architecture of the image embeddings."""
    clip_pretrained: str | None = None
    """open_clip weights: a pretrained tag (``laion2b_s34b_b79k``, from the hub) or a local
    checkpoint. Unset: no image embeddings, visual search is off."""

    warm_models: bool = True
    """Jobs of the API and ``clipray run``/``analyze`` send their model work to warm model
    services shared by every job (started on first use); false: each analysis loads its
    models in actor pools of its own, as ``clipray batch`` always does."""
    model_service_timeout_s: float = Field(default=300.0, gt=0)
    """Longest wait for one answer of a warm model service (a window's faces, a batch of
    speech chunks); past it the call is retried on another replica."""
    model_service_attempts: int = Field(default=3, ge=1, le=10)
    """Tries of one call to a warm model service (a replica that died mid-batch, or one that
    did not answer in time) before its video fails with ``MODEL_SERVICE_UNAVAILABLE``."""
    # Queue limits of each warm model service, in requests received and not yet answered
    # over all its replicas (a request: one window's faces or embeddings, one batch of
    # speech chunks, one batch of transcript segments). Soft: one full @serve.batch (8)
    # waiting means a request waits for a second pass of the replica, so it is also the
    # deployments' autoscaling target per replica. Hard: four passes per replica behind; at
    # a second or a few per request on a CPU that is about a minute of queue, well inside
    # model_service_timeout_s, so a job admitted below it does not time out in the queue.
    model_queue_soft_limit: int = Field(default=8, ge=1)
    """Queue depth from which a warm model service is behind: jobs are still admitted (their
    work queues) and Serve adds replicas (its autoscaling target per replica); the
    ``ClipModelQueueBehind`` alert compares the depth with it."""
    model_queue_hard_limit: int = Field(default=32, ge=1)
    """Queue depth of any warm model service from which new jobs are refused with 429
    ``MODEL_SERVICES_BUSY`` and ``Retry-After`` (jobs already admitted go on)."""
    model_queue_retry_after_s: int = Field(default=10, ge=1)
    """``Retry-After`` of that refusal where the busy service answered nothing lately (else
    it is estimated from its depth and recent throughput)."""

    text_embed_model: str = "bundled:all-MiniLM-L6-v2"
    """Sentence embeddings of the transcript and of search queries:
    ``bundled:all-MiniLM-L6-v2`` (offline, from the ml extra), a local sentence-transformers
    directory, or a hub repo id."""

    # --- search ---------------------------------------------------------------------------
    index_uri: str | None = None
    """Where the search index (LanceDB) lives: ``s3://bucket/prefix`` on a cluster (signed
    with the S3 endpoint and keys above). Unset: ``{home}/index``, a local directory, which
    only workers on this machine can write."""
    index_ann_min_rows: int = 10_000
    """A table gets an approximate (ANN) index once it holds this many rows; below that,
    exact search is fast enough (under 25 ms at p95 on 2 cores) and always exact."""
    search_moment_gap_s: float = 2.0
    """Hits of one source closer than this are merged into one moment."""
    search_moment_max_s: float = Field(default=30.0, gt=0, le=600)
    """Longest search moment, in seconds: the length of a short clip. Hits join a moment only
    within it, and a single longer transcript segment is cut to it around its middle."""
    highlight_max_parts: int = Field(default=50, ge=1, le=500)
    """Most moments one highlight reel may join (at most 500: the API refuses a longer list
    while reading the request)."""
    highlight_max_duration_s: float = 600.0
    """Longest highlight reel, in seconds (the sum of its moments)."""

    # --- clip ranking ---------------------------------------------------------------------
    llm_base_url: str | None = None
    """OpenAI-compatible chat-completions endpoint that re-ranks and retitles the chosen
    moments (it cannot move them). Unset: the heuristic ranking alone."""
    llm_model: str = "gpt-4o-mini"
    """Model name sent to ``llm_base_url``."""
    llm_api_key: SecretStr | None = None
    """Bearer token for ``llm_base_url``."""

    # --- stock footage ----------------------------------------------------------------------
    pexels_api_key: SecretStr | None = None
    """Pexels API key: B-roll from Pexels' video search (``services/stock_footage.py``),
    downloaded into the workspace's media before a clip uses it. Unset: the library only."""
    pexels_base_url: str = "https://api.pexels.com"
    """Where Pexels' API answers (a test server, or a proxy)."""

    # --- HTTP API and accounts --------------------------------------------------------------
    serve_host: str = "127.0.0.1"
    """Address ``clipray serve`` binds the HTTP API to (``0.0.0.0`` to expose it)."""
    serve_port: int = 8000
    """Port of the HTTP API."""
    jwt_secret: SecretStr | None = None
    """Key that signs access tokens (32+ bytes). Unset: generated once into
    ``{home}/jwt-secret``; every replica and node must share it, so set it on a cluster."""
    access_token_ttl_s: int = 900
    """Lifetime of an access token; clients refresh with their refresh token."""
    refresh_token_ttl_days: int = 30
    """Lifetime of a refresh token (each refresh replaces it)."""
    rate_limit_login_per_minute: int = 5
    """Login attempts per client IP in any 60 s (a sliding window, not a clock minute),
    counted in the database (so across replicas)."""
    rate_limit_register_per_hour: int = 3
    """Registrations per client IP in any 3600 s (sliding)."""
    rate_limit_per_minute: int = Field(default=100, ge=0)
    """Requests per signed-in user in any 60 s (sliding), over every endpoint that takes a
    bearer credential (API tokens count for their user), counted in the database (so across
    replicas); 429 ``RATE_LIMITED`` with ``Retry-After`` above it. 0 turns it off."""
    trusted_proxies: tuple[str, ...] = ()
    """IPs or CIDRs of the reverse proxies in front of the API. ``X-Forwarded-For`` is read
    only when the direct peer is one of them, and then its right-most address that is not;
    empty: the header is ignored and the peer is the client (a JSON list)."""
    url_allowed_domains: tuple[str, ...] = ("youtube.com", "youtu.be", "twitch.tv", "vimeo.com")
    """Hosts (and their subdomains) a job's ``source_url`` may point at."""
    url_allow_private: bool = False
    """Allow source URLs that resolve to private, loopback or link-local addresses. Never in
    production: it opens the server's own network to anyone who can create a job."""
    max_source_duration_s: float = 4 * 3600
    """Longest video an upload or URL may be."""
    max_source_width: int = 3840
    """Largest long side of a video, in pixels (4K)."""
    max_source_height: int = 2160
    """Largest short side of a video, in pixels (4K)."""
    quota_concurrent_jobs: int = 3
    """Jobs a workspace may have in progress at once (a workspace row can override it)."""
    quota_minutes_per_month: int = 600
    """Source minutes a workspace may process per calendar month, UTC (overridable)."""
    quota_storage_bytes: int = 100 * 1024**3
    """Bytes of its own source videos a workspace may hold (overridable per workspace).
    Generated clips never count: they live on the app-owned bucket."""
    generated_clip_retention_days: float = 7.0
    """A generated clip is purged this long after it was made, unless kept or published."""
    generated_clips_max_live: int = 500
    """Live (available, not kept) generated clips a workspace may have; generation beyond
    it is refused with ``GENERATED_CLIP_LIMIT`` until some expire or are deleted."""
    retention_interval_s: float = 3600.0
    """How often the retention actor sweeps expired generated clips."""
    retention_orphan_grace_s: float = 3600.0
    """An object under the generated prefix with no live row is deleted once it is older
    than this (younger ones may belong to a render that has not recorded its row yet)."""
    retention_upload_grace_s: float = 3600.0
    """An unconfirmed upload is deleted this long after its presign expired (an upload
    begun just before the expiry may still be arriving), and its quota reservation freed."""
    job_runner_concurrency: int = 2
    """Jobs the job runner drives at once; their steps' Ray work spreads over the cluster."""
    job_poll_interval_s: float = 0.5
    """How often the job runner looks for work and for cancelled jobs."""
    export_concurrency: int = 2
    """Proxy builds and clip exports the job runner keeps in flight at once (each is one
    Ray task of ``export`` resources; a stream-copy export takes a second or two)."""
    proxy_build_timeout_s: float = 3600.0
    """A proxy build claimed longer ago than this is taken as dead and built again; also
    how long an export waits for a proxy that another worker is building."""

    # --- publishing -----------------------------------------------------------------------
    publish: PublishSettings = Field(default_factory=PublishSettings)
    """Each platform's OAuth client and endpoints, e.g. ``CLIPRAY_PUBLISH__YOUTUBE__CLIENT_ID``,
    ``..._CLIENT_SECRET``, ``..._AUTH_URL``, ``..._TOKEN_URL``, ``..._API_BASE``; a platform
    without a client id and secret is off."""
    fernet_keys: SecretStr | None = None
    """Fernet keys that encrypt connected accounts' tokens at rest, comma-separated, newest
    first: new tokens are encrypted with the first, any of them decrypts, and an account is
    re-encrypted with the first on its next refresh (rotate by prepending a key). Unset:
    embedded mode generates one into ``{home}/fernet-keys``; with a database URL set,
    connecting accounts is refused (``FERNET_KEYS_MISSING``)."""
    oauth_return_url: str | None = None
    """Where the browser goes after a platform's consent (the studio's accounts page):
    ``?connected=<platform>`` or ``?error=<CODE>`` is appended. Unset: a small HTML page."""
    public_url: str | None = None
    """The API's address as browsers reach it (``https://clips.example.com``, with a path
    prefix if the proxy adds one): OAuth redirect URIs are built from it, so consent works
    behind a reverse proxy that rewrites the host or scheme. Unset: built from each request."""
    install_owners: Annotated[tuple[str, ...], NoDecode] = ()
    """Emails of the installation's owners, comma-separated: they flip feature flags and read
    the installation's audit log. Empty: the earliest-registered user who can sign in."""

    # --- webhooks -------------------------------------------------------------------------
    webhook_timestamp_window_s: float = 300.0
    """An inbound webhook whose signed timestamp is further than this from now is refused
    (``WEBHOOK_STALE``); its nonce is remembered this long."""
    rate_limit_webhooks_per_minute: int = 600
    """Inbound webhook requests per platform and client IP in any 60 s (sliding)."""
    webhook_delivery_attempts: int = 8
    """Attempts of one outbound delivery before it is given up (``failed``)."""
    webhook_delivery_base_delay_s: float = 10.0
    """Wait after the first failed attempt; each further failure doubles it (capped at 1 h)."""
    webhook_delivery_timeout_s: float = 10.0
    """How long a subscriber has to answer one delivery (a timeout is retried)."""
    webhook_delivery_concurrency: int = 4
    """Deliveries the job runner keeps in flight at once (each a small Ray task)."""

    # --- live streams ---------------------------------------------------------------------
    quota_concurrent_streams: int = Field(default=3, ge=0)
    """Live streams a workspace may watch at once (paused and failed ones count: they can
    be resumed); the next is refused with 429 ``STREAM_QUOTA_EXCEEDED``."""
    streams_max_cluster: int = Field(default=20, ge=0)
    """Live streams the whole cluster watches at once (429 ``STREAM_CAPACITY_EXCEEDED``)."""
    stream_retry_after_s: int = Field(default=60, ge=1)
    """``Retry-After`` of a refused stream: a stream that ends frees its place."""
    stream_pipeline: str | None = "clipray.services.stream_pipeline:stream_pipeline"
    """What a stream worker runs: ``module:factory``, called with a
    ``services.stream_context.WorkerContext``; the default ingests, analyses and assembles
    clips. Unset (empty): workers report ``error`` (``STREAM_PIPELINE_MISSING``)."""
    stream_heartbeat_interval_s: float = Field(default=5.0, gt=0)
    """How often a stream worker records ``last_seen_at``."""
    stream_heartbeat_timeout_s: float = Field(default=30.0, gt=0)
    """A worker silent this long is taken for dead and recreated by the supervisor."""
    stream_worker_start_timeout_s: float = Field(default=120.0, gt=0)
    """How long a new worker may take to send its first heartbeat (Ray schedules it, starts
    a process, the pipeline connects) before it is taken for dead."""
    stream_supervisor_lease_s: float = Field(default=30.0, gt=0)
    """Lifetime of the supervisor's lease (and of its claims on monitors) without renewal:
    how long a dead supervisor keeps another instance from taking over."""
    stream_supervisor_poll_s: float = Field(default=2.0, gt=0)
    """How often the supervisor renews its lease and looks at the monitors."""
    stream_drain_timeout_s: float = Field(default=30.0, gt=0)
    """How long a stopping worker may take to flush its buffer and pending clips."""
    stream_events_keep: int = Field(default=2000, ge=1)
    """Messages (events, clips, status changes) a stream's feed keeps, newest first: the
    worker prunes older ones as it writes (a watcher away longer resumes at the oldest)."""
    stream_events_poll_s: float = Field(default=0.5, gt=0)
    """How often a stream's event feed (SSE, WebSocket, ``streams watch``) reads the table."""
    stream_push_host: str = "127.0.0.1"
    """Host in a push monitor's ``ingest_url``: where OBS reaches the stream workers."""
    stream_push_ports: tuple[int, int] = (19350, 19449)
    """First and last RTMP port handed to push monitors (one each while live)."""

    # --- publications (the publisher actor) ----------------------------------------------
    publish_poll_s: float = 1.0
    """How often the publisher looks for due publications and finished attempts."""
    publish_concurrency: int = 4
    """Publication attempts in flight at once (each one Ray task of ``publish`` resources)."""
    publish_backoff_s: float = BACKOFF_S
    """Wait after a publication's first failed attempt; each later one doubles it (a
    platform's own retry time is honoured when it is longer)."""
    publish_call_timeout_s: float = CALL_TIMEOUT_S
    """The most one attempt may take: the publisher cancels it then and retries it later."""
    publish_analytics_interval_s: float = 3600.0
    """How often the publisher pulls views, likes and comments of recent publications."""
    publish_analytics_days: float = 30.0
    """Posts published within this many days get their stats pulled."""

    # --- media tools ----------------------------------------------------------------------
    ffmpeg_bin: str = "ffmpeg"
    """ffmpeg executable (Debian's build has libass, needed to burn captions)."""
    ffprobe_bin: str = "ffprobe"
    """ffprobe executable, used to validate every ingested video."""
    render_encoder: Literal["auto", "libx264", "h264_nvenc"] = "auto"
    """H.264 encoder of clip renders (``media/encoders.py``): ``libx264`` (the CPU; the
    reproducible path, the same bytes for the same spec), ``h264_nvenc`` (an NVIDIA GPU; a
    render where it cannot encode fails with ``ENCODER_UNAVAILABLE``), or ``auto``: NVENC
    where a 0.1 s test encode with it succeeds in the rendering process, else libx264. Give
    renders a GPU with ``CLIPRAY_STAGES__RENDER__NUM_GPUS``."""
    audiogram_background: str = Field(
        "0x1d2433", pattern=r"^(0x|#)?[0-9a-fA-F]{6}$|^[a-zA-Z]{3,20}$"
    )
    """Canvas colour of an audiogram (a clip of an audio-only source) where the episode has
    no cover art, and around it where it has: ``0xRRGGBB``, ``#RRGGBB`` or a colour name."""
    audiogram_wave: Literal["waves", "freqs", "spectrum"] = "waves"
    """How an audiogram animates the sound: the waveform, spectrum bars, or a spectrogram."""

    # --- live streams ---------------------------------------------------------------------
    stream_ingest: IngestSettings = Field(default_factory=IngestSettings)
    """A stream worker's ingest and ring buffer: ``CLIPRAY_STREAM_INGEST__SEGMENT_S``,
    ``..._BUFFER_SECONDS``, ``..._BUFFER_BYTES``, ``..._MAX_FAILURES``, ``..._VIDEO`` ..."""
    stream_clips: StreamClipSettings = Field(default_factory=StreamClipSettings)
    """How a stream worker makes clips: ``CLIPRAY_STREAM_CLIPS__X264_PRESET``, ``..._CRF``,
    ``..._ASR_WINDOW_S``, ``..._SCENE_THRESHOLD``, ``..._ANALYSIS`` (JSON) ..."""

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """A typo here would silently trust nobody (or the wrong network): refuse it."""
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {item!r} is not an IP or CIDR") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        """An absolute http(s) URL without query or fragment; a trailing slash is dropped so
        that paths join with one."""
        if value is None:
            return None
        parts = urlsplit(value)
        bad = parts.query or parts.fragment or not parts.netloc
        if parts.scheme not in ("http", "https") or bad:
            raise ValueError(f"public_url: {value!r} is not an http(s) URL without query")
        return value.rstrip("/")

    @field_validator("install_owners", mode="before")
    @classmethod
    def _split_owners(cls, value: Any) -> Any:
        """``a@x.org,b@x.org`` from the environment, a list from code; lower-cased."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            return tuple(v.strip().lower() for v in value if isinstance(v, str) and v.strip())
        return value

    @model_validator(mode="after")
    def _check_queue_limits(self) -> Settings:
        """A hard limit under the soft one would refuse jobs before any service is behind."""
        if self.model_queue_hard_limit < self.model_queue_soft_limit:
            raise ValueError("model_queue_hard_limit must be at least model_queue_soft_limit")
        return self

    @field_validator("stages", mode="before")
    @classmethod
    def _merge_stage_defaults(cls, value: Any) -> Any:
        """Configured stages override the defaults field by field, so that
        ``CLIPRAY_STAGES__ASR__NUM_GPUS=1`` keeps ASR's batch size and every other stage."""
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {k: v.model_dump() for k, v in default_stages().items()}
        for name, res in value.items():
            given = res.model_dump() if isinstance(res, StageResources) else res
            merged[name] = {**merged.get(name, {}), **given} if isinstance(given, dict) else given
        return merged

    @property
    def home_dir(self) -> Path:
        """``home`` with ``~`` expanded, made absolute."""
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'clipray.db'}"

    @property
    def uses_embedded_s3(self) -> bool:
        """True when no S3 endpoint is configured and the embedded server stands in."""
        return self.s3_endpoint_url is None

    def stage(self, name: str) -> StageResources:
        """Resources of one stage; a stage missing from config gets the defaults."""
        return self.stages.get(name, StageResources())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
