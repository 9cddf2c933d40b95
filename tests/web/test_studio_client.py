"""The studio's own unit tests (Vitest, in Node): the API client's token refresh and error
shape, and the server-sent-events parser. Run here so that the test command runs them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from clipray.web import BUILD_COMMAND
from tests.conftest import REPO

pytestmark = pytest.mark.integration  # it starts Node

STUDIO = REPO / "studio"


def test_the_studio_unit_tests_pass():
    npm = shutil.which("npm")
    assert npm, "npm is missing: bash scripts/system-deps.sh nodejs"
    assert (STUDIO / "node_modules").is_dir(), f"the studio's packages are missing: {BUILD_COMMAND}"
    env = {**os.environ, "CI": "1", "NO_COLOR": "1"}
    done = subprocess.run([npm, "test", "--silent"], cwd=STUDIO, capture_output=True, text=True,
                          timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    counts = re.search(r"Tests\s+(\d+) passed", done.stdout)
    assert counts, done.stdout
    assert int(counts.group(1)) >= 6, done.stdout  # client.test.ts and events.test.ts
