"""The web studio's built assets, shipped inside the package (its TypeScript source is the
top-level ``studio/`` folder; ``scripts/build-studio.sh`` builds it into :data:`DIST`).

The build is not committed: an installed package carries it as package data, a checkout
gets it from the build script, and the ingress answers 503 ``STUDIO_NOT_BUILT`` at ``/``
until it exists.
"""

from __future__ import annotations

from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"
"""Vite's output: ``index.html`` and the hashed files under ``assets/``."""

BUILD_COMMAND = "bash scripts/build-studio.sh"
"""What builds :data:`DIST` from a checkout (named in the 503 a missing build answers)."""
