"""``clipray brand`` and ``clipray run --brand``: doors onto ``services/brand.py`` in the
CLI's workspace (embedded S3, migrated SQLite; no Ray)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from clipray.storage.orm import BrandKitRow

pytestmark = pytest.mark.integration


def test_create_upload_list_delete_and_run_with_an_unknown_kit(tmp_path, up_home, short_talk):
    made = up_home.run("brand", "create", "Main")
    assert made.returncode == 0, made.stderr
    kit_id = made.stdout.strip()
    logo = tmp_path / "logo.png"
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(buf, "PNG")
    logo.write_bytes(buf.getvalue())
    sent = up_home.run("brand", "upload", kit_id, "logo", str(logo))
    assert sent.returncode == 0, sent.stderr
    (kit,) = json.loads(up_home.run("brand", "list", "--json").stdout)
    assert (kit["id"], kit["name"]) == (kit_id, "Main")
    assert up_home.buckets.media.scoped(up_home.workspace_id).head(kit["logo"]) is not None

    refused = up_home.run("run", str(short_talk), "--brand", "0" * 32)
    assert refused.returncode == 2
    assert "error: BRAND_KIT_NOT_FOUND" in refused.stderr

    gone = up_home.run("brand", "delete", kit_id)
    assert gone.returncode == 0, gone.stderr
    with up_home.db.session() as s:
        assert s.get(BrandKitRow, kit_id) is None
    assert up_home.buckets.media.scoped(up_home.workspace_id).head(kit["logo"]) is None
