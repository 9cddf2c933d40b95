"""``clipray doctor``: is this machine ready to run clipray? Each line is OK or says the fix.

Checks are plain functions returning :class:`Check`; a ``fail`` means clipray will not work
until the fix is applied, a ``warn`` means a capability is off (no GPU, no CLIP weights).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from clipray.cluster.procs import port_open
from clipray.cluster.services import ServiceUnavailableError, local_ray_head, resolve_s3
from clipray.config import Settings
from clipray.domain.errors import CodedError
from clipray.media.ffmpeg import buildconf, version
from clipray.storage import migrate
from clipray.storage.objects import open_buckets

Level = Literal["ok", "warn", "fail"]
APT_FFMPEG = "apt-get install -y ffmpeg  (Debian's ffmpeg is built with libass)"


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    detail: str
    fix: str | None = None


def check_ffmpeg(settings: Settings) -> list[Check]:
    out: list[Check] = []
    ffmpeg = shutil.which(settings.ffmpeg_bin)
    if ffmpeg is None:
        out.append(Check("ffmpeg", "fail", f"{settings.ffmpeg_bin!r} not found", APT_FFMPEG))
    else:
        try:
            banner = buildconf(ffmpeg, timeout=20)
        except (CodedError, subprocess.TimeoutExpired) as exc:  # DependencyMissing, FfmpegError
            banner = ""
            out.append(Check("ffmpeg", "fail", f"{ffmpeg} does not run: {exc}", APT_FFMPEG))
        if banner and "--enable-libass" in banner:
            out.append(Check("ffmpeg", "ok", f"{ffmpeg}, built with libass"))
        elif banner:
            out.append(
                Check(
                    "ffmpeg",
                    "fail",
                    f"{ffmpeg} is built without libass: captions cannot be burned in",
                    APT_FFMPEG,
                )
            )
    ffprobe = shutil.which(settings.ffprobe_bin)
    if ffprobe is None:
        out.append(Check("ffprobe", "fail", f"{settings.ffprobe_bin!r} not found", APT_FFMPEG))
    else:
        try:
            version(ffprobe)
            out.append(Check("ffprobe", "ok", ffprobe))
        except (CodedError, subprocess.TimeoutExpired) as exc:
            out.append(Check("ffprobe", "fail", f"{ffprobe} does not run: {exc}", APT_FFMPEG))
    return out


def check_s3(settings: Settings) -> list[Check]:
    try:
        endpoint = resolve_s3(settings)
    except ServiceUnavailableError as exc:
        return [Check("s3", "fail", str(exc), "clipray up")]
    where = endpoint.url or "AWS S3"
    fix_reach = (
        "clipray up  (restarts the embedded S3 server)"
        if settings.uses_embedded_s3
        else "check CLIPRAY_S3_ENDPOINT_URL and the credentials"
    )
    buckets = open_buckets(endpoint, settings)
    out: list[Check] = []
    for store in buckets.stores:
        try:
            exists = store.bucket_exists()
        except Exception as exc:  # StorageError, or botocore's connection errors (no common base)
            return [Check("s3", "fail", f"{where} unreachable: {first_line(exc)}", fix_reach)]
        if exists:
            out.append(Check(f"bucket {store.bucket}", "ok", f"present on {where}"))
        else:
            out.append(Check(f"bucket {store.bucket}", "fail", f"missing on {where}", "clipray up"))
    return [Check("s3", "ok", f"{where} reachable"), *out]


def check_database(settings: Settings) -> list[Check]:
    url = settings.resolved_database_url
    shown = redact_url(url)
    try:
        current = migrate.current_revision(url)
    except Exception as exc:  # any driver error means "cannot use the database"
        return [
            Check(
                "database",
                "fail",
                f"{shown} unreachable: {first_line(exc)}",
                "check CLIPRAY_DATABASE_URL",
            )
        ]
    head = migrate.head_revision()
    if current == head:
        return [Check("database", "ok", f"{shown} at the latest migration ({head})")]
    if current is None:
        return [Check("database", "fail", f"{shown} has no clipray tables", "clipray up")]
    return [
        Check(
            "database",
            "fail",
            f"{shown} at migration {current}, this clipray expects {head}",
            "clipray up  (applies pending migrations)",
        )
    ]


def check_ray(settings: Settings) -> list[Check]:
    if settings.ray_address == "auto":
        return [Check("ray", "ok", "joins the Ray cluster this node belongs to (auto)")]
    if settings.ray_address:
        host, _, port = settings.ray_address.removeprefix("ray://").rpartition(":")
        if host and port.isdigit() and port_open(host, int(port), timeout=2):
            return [Check("ray", "ok", f"cluster at {settings.ray_address} answers")]
        return [
            Check(
                "ray",
                "fail",
                f"cluster at {settings.ray_address} does not answer",
                "check CLIPRAY_RAY_ADDRESS or start the cluster (ray up ray-cluster.yaml)",
            )
        ]
    head = local_ray_head(settings)
    address = head.address()
    if address is None:
        return [
            Check(
                "ray",
                "warn",
                "no local head: each command starts Ray in-process, without the dashboard",
                "clipray up",
            )
        ]
    dash = head.dashboard_url()
    return [
        Check("ray", "ok", f"local head at {address}" + (f", dashboard {dash}" if dash else ""))
    ]


def _bundled_asr(value: str) -> str:
    from clipray.models.asr import resolve_weights

    return resolve_weights(value)


def _bundled_faces(value: str) -> str:
    from clipray.models.faces import resolve_weights

    return str(resolve_weights(value)[0])


def _bundled_text(value: str) -> str:
    from clipray.models.text_embed import resolve_weights

    return resolve_weights(value)


def check_models(settings: Settings) -> list[Check]:
    """Whether the configured weights are at hand; CLIP weights never ship in a package.

    Bundled weights are located by the model wrappers themselves, so doctor and the
    pipeline agree on where they are.
    """
    out: list[Check] = []
    models = (
        ("asr weights", settings.asr_model, _bundled_asr, "speech is not transcribed"),
        ("face weights", settings.face_weights, _bundled_faces, "reframing stays centred"),
        ("text embedding weights", settings.text_embed_model, _bundled_text,
         "the transcript is not searchable"),
    )  # fmt: skip
    for name, value, resolve, without in models:
        if not value.startswith("bundled:"):
            out.append(_configured_weights(name, value))
            continue
        try:
            out.append(Check(name, "ok", f"{value} at {resolve(value)}"))
        except (ImportError, FileNotFoundError, ValueError) as exc:
            out.append(
                Check(name, "warn", f"{value} unavailable ({first_line(exc)}): {without}",
                      "pip install 'clipray[ml]'  (or configure local weights)")
            )  # fmt: skip
    if settings.clip_pretrained is None:
        out.append(
            Check(
                "clip weights",
                "warn",
                "none configured (no package ships CLIP weights): visual search is off",
                "set CLIPRAY_CLIP_PRETRAINED to open_clip weights (a local checkpoint or a tag)",
            )
        )
    elif "/" in settings.clip_pretrained and not Path(settings.clip_pretrained).exists():
        out.append(
            Check(
                "clip weights", "fail", f"{settings.clip_pretrained} does not exist",
                "fix CLIPRAY_CLIP_PRETRAINED",
            )
        )  # fmt: skip
    else:
        out.append(Check("clip weights", "ok", f"{settings.clip_model} {settings.clip_pretrained}"))
    return out


def _configured_weights(name: str, value: str) -> Check:
    """Weights named in config instead of the bundled ones: a path must exist; a bare name
    is fetched from the model hub on first use (production machines reach it)."""
    if "/" in value or value.endswith((".pt", ".onnx")):
        if Path(value).expanduser().exists():
            return Check(name, "ok", f"{value}")
        return Check(name, "fail", f"{value} does not exist", "fix the configured weights path")
    return Check(name, "warn", f"{value}: fetched from the model hub on first use",
                 "pre-download it to a local dir where machines have no hub access")  # fmt: skip


def check_gpu(_settings: Settings) -> list[Check]:
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            gpus = (
                subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
                .stdout.strip()
                .splitlines()
            )
        except (OSError, subprocess.TimeoutExpired):
            gpus = []
        if gpus:
            return [Check("gpu", "ok", "; ".join(gpus))]
    return [Check("gpu", "warn", "no GPU visible: model stages run on the CPU")]


def check_publishing(settings: Settings) -> list[Check]:
    """Each platform on (a client configured) or off with the settings that turn it on, and
    whether connected accounts' tokens can be encrypted (production needs its own keys)."""
    from clipray.publish.base import PLATFORMS
    from clipray.storage.vault import load_keyring

    out: list[Check] = []
    for platform in PLATFORMS:
        cfg = settings.publish.of(platform)
        key = f"CLIPRAY_PUBLISH__{platform.upper()}"
        if cfg.configured:
            out.append(Check(f"publish {platform}", "ok", f"on (client {cfg.client_id})"))
        else:
            out.append(Check(f"publish {platform}", "warn", "off: no OAuth client configured",
                             f"set {key}__CLIENT_ID and {key}__CLIENT_SECRET"))  # fmt: skip
    if any(settings.publish.of(p).configured for p in PLATFORMS):
        try:
            ring = load_keyring(settings.fernet_keys, settings.home_dir,
                                production=settings.database_url is not None)  # fmt: skip
            out.append(Check("token encryption", "ok", f"Fernet key {ring.newest} is newest"))
        except CodedError as exc:
            out.append(Check("token encryption", "fail", exc.message,
                             "set CLIPRAY_FERNET_KEYS (comma-separated, newest first)"))
    return out


def check_flags(settings: Settings) -> list[Check]:
    """A platform switched off for every workspace by its feature flag (a warn each, with
    who and when); nothing when the database cannot be read (``database`` says why)."""
    from clipray.domain.flags import platform_flag
    from clipray.publish.base import PLATFORMS
    from clipray.storage.db import Database
    from clipray.storage.flags import FlagRepo

    flags = {platform_flag(p): p for p in PLATFORMS}
    try:
        db = Database(settings.resolved_database_url)
    except Exception:  # a bad URL: check_database reports it
        return []
    try:
        with db.session() as s:
            off = [(r.name, r.updated_at) for r in FlagRepo(s).off_globally()]
    except Exception:  # unreachable, or not migrated yet: check_database reports it
        return []
    finally:
        db.dispose()
    return [Check(f"publish {flags[name]} flag", "warn",
                  f"switched off for every workspace by flag {name} (since {at:%Y-%m-%d %H:%M} "
                  "UTC): connecting its accounts is refused (PLATFORM_SWITCHED_OFF)",
                  f'PATCH /api/admin/flags {{"name": "{name}", "enabled": true}}')
            for name, at in off if name in flags]  # fmt: skip


CHECKS: tuple[Callable[[Settings], list[Check]], ...] = (
    check_ffmpeg,
    check_s3,
    check_database,
    check_ray,
    check_models,
    check_gpu,
    check_publishing,
    check_flags,
)


def run_checks(settings: Settings) -> list[Check]:
    return [c for check in CHECKS for c in check(settings)]


def redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
