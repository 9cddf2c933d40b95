"""The test tiers hold: a test marked unit that reaches for a service, a process or a database
fails, and what is not unit is integration. Runs pytest on throwaway modules (a process: this
module is integration itself)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

UNIT_MODULE = '''
import subprocess

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.unit


def test_pure():
    assert sorted([3, 1, 2]) == [1, 2, 3]


def test_calls_ffmpeg():
    subprocess.run(["ffmpeg", "-version"], capture_output=True, check=True)


def test_opens_a_database():
    with sa.create_engine("sqlite://").connect() as conn:
        conn.execute(sa.text("select 1"))


def test_asks_for_a_service(buckets):
    pass


@pytest.mark.integration
def test_marked_both():
    pass
'''

PLAIN_MODULE = '''
def test_unmarked():
    pass
'''

INTEGRATION_MODULE = '''
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def settings():  # a service fixture's name, cheap here
    return {}


def test_marked_integration_with_a_service(settings):
    assert settings == {}
'''


def run_pytest(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-q", "-rA", "--timeout", "120", "-W", "ignore::pytest.PytestUnknownMarkWarning",
         *args, str(where)],
        cwd=where, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def outcomes(out: str) -> dict[str, str]:
    """``{test name: PASSED|FAILED|ERROR}`` from the ``-rA`` summary."""
    found = {}
    for line in out.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR") and "::" in rest:
            found[rest.split("::", 1)[1].split(" ", 1)[0]] = word
    return found


def test_a_mislabelled_unit_test_fails_and_the_rest_is_integration(tmp_path):
    (tmp_path / "test_unitish.py").write_text(UNIT_MODULE)
    (tmp_path / "test_plain.py").write_text(PLAIN_MODULE)
    (tmp_path / "test_integration.py").write_text(INTEGRATION_MODULE)

    unit = run_pytest(tmp_path, "-m", "unit")
    assert outcomes(unit.stdout) == {
        "test_pure": "PASSED",
        "test_calls_ffmpeg": "FAILED",
        "test_opens_a_database": "FAILED",
        "test_asks_for_a_service": "ERROR",
        "test_marked_both": "ERROR",
    }, unit.stdout
    assert unit.returncode == 1
    assert "is marked unit but starts a process" in unit.stdout
    assert "is marked unit but opens a database connection" in unit.stdout
    assert "uses the service fixtures ['buckets', 's3_server', 'settings']" in unit.stdout

    integration = run_pytest(tmp_path, "-m", "integration")
    assert outcomes(integration.stdout) == {
        "test_unmarked": "PASSED",  # integration without saying so
        "test_marked_integration_with_a_service": "PASSED",  # saying so is allowed too
        "test_marked_both": "ERROR",
    }, integration.stdout
    assert "is marked both unit and integration" in integration.stdout
