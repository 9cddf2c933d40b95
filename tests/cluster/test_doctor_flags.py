"""``clipray doctor`` reports a platform switched off for every workspace by its feature
flag, read from a real (migrated) SQLite database; a database it cannot read adds nothing
(the database check says why)."""

from clipray.cluster.doctor import CHECKS, check_flags
from clipray.config import Settings
from clipray.domain.audit import Actor
from clipray.services import flags
from clipray.storage import migrate
from clipray.storage.db import Database
from clipray.storage.repos import WorkspaceRepo

# Integration: a database file.


def test_a_platform_switched_off_globally_is_a_warning_with_its_fix(tmp_path):
    url = f"sqlite:///{tmp_path / 'clipray.db'}"
    migrate.upgrade(url)
    settings = Settings(home=tmp_path, database_url=url)
    assert check_flags(settings) == []
    db = Database(url)
    try:
        with db.session() as s:
            ws = WorkspaceRepo(s).create("doctor-flags").id
        flags.set_flag(db, Actor(None), "publish.tiktok", False)
        flags.set_flag(db, Actor(None), "publish.x", False, workspace_id=ws)  # one workspace
        flags.set_flag(db, Actor(None), "publish.youtube", True)  # on: nothing to report
    finally:
        db.dispose()
    checks = check_flags(settings)
    assert [(c.name, c.level) for c in checks] == [("publish tiktok flag", "warn")]
    assert "publish.tiktok" in checks[0].detail
    assert "for every workspace" in checks[0].detail
    assert checks[0].fix == 'PATCH /api/admin/flags {"name": "publish.tiktok", "enabled": true}'
    assert check_flags in CHECKS


def test_a_database_without_the_tables_adds_nothing(tmp_path):
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert check_flags(settings) == []
