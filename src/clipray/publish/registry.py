"""Which adapter speaks to which platform: ``clipray.publish.<platform>`` defines
``Adapter``, a :class:`~clipray.publish.base.PlatformAdapter`.

    >>> adapter_for("youtube", settings.publish)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from clipray.publish.base import PLATFORMS, PlatformAdapter, PublishSettings, UnknownPlatform


def adapter_for(platform: str, settings: PublishSettings) -> PlatformAdapter:
    """The platform's adapter with its settings.

    Raises:
        UnknownPlatform: 404 ``PLATFORM_UNKNOWN``.
        PlatformOff: 409 ``PLATFORM_OFF`` when the platform has no client configured.
    """
    if platform not in PLATFORMS:
        raise UnknownPlatform(platform)
    module = importlib.import_module(f"clipray.publish.{platform}")
    adapter: PlatformAdapter = module.Adapter(settings.of(platform))
    return adapter


def configured(settings: PublishSettings) -> list[str]:
    """The platforms that have a client configured (``doctor`` reports the others off)."""
    return [p for p in PLATFORMS if settings.of(p).configured]
