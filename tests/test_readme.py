"""README.md stays true to the code: every setting and every CLI command is documented."""

from pathlib import Path

import pytest
from typer.main import get_command

from clipray.cli import app
from clipray.config import Settings

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table():
    missing = [
        f"CLIPRAY_{n.upper()}"
        for n in Settings.model_fields
        if f"`CLIPRAY_{n.upper()}`" not in README
    ]
    assert missing == []


def test_every_cli_command_is_documented():
    commands = get_command(app).commands  # type: ignore[attr-defined]
    assert commands
    missing = [name for name in commands if f"\n  {name} " not in README]
    assert missing == []


def test_the_quickstart_is_two_commands_and_ci_runs_the_second():
    block = README.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert len(commands) == 2
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert commands[1] in ci
