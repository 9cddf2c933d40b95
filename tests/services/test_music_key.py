"""``clipray run --music FILE``: the file goes to the workspace's media bucket under a key
named by its bytes, and the job's settings carry that key (``services/main_job``)."""

from __future__ import annotations

import pytest

from clipray.pipelines.clipjob import RunOptions
from clipray.pipelines.ingest import IngestContext
from clipray.services.main_job import music_on_bucket
from clipray.storage.orm import new_id

pytestmark = pytest.mark.integration


def test_a_local_music_file_becomes_a_key_named_by_its_bytes(buckets, api_db, tmp_path):
    ctx = IngestContext(buckets, api_db, new_id())
    bed = tmp_path / "Bed.MP3"
    bed.write_bytes(b"ID3 first take" * 100)
    first = music_on_bucket(ctx, RunOptions(music=str(bed)))
    assert first.music is not None
    assert first.music.startswith(f"{ctx.workspace_id}/music/")
    assert first.music.endswith(".mp3")
    media = buckets.media.scoped(ctx.workspace_id)
    assert media.head(first.music).size == bed.stat().st_size
    assert music_on_bucket(ctx, RunOptions(music=str(bed))).music == first.music  # same bytes

    bed.write_bytes(b"ID3 second take" * 100)  # changed at the same path: another key
    second = music_on_bucket(ctx, RunOptions(music=str(bed)))
    assert second.music != first.music
    assert media.head(second.music) is not None

    # a key (what the API takes) and no music pass through untouched
    key = f"{ctx.workspace_id}/music/bed.mp3"
    assert music_on_bucket(ctx, RunOptions(music=key)).music == key
    assert music_on_bucket(ctx, RunOptions()).music is None
