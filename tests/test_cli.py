"""The CLI as a user runs it: a subprocess with its own CLIPRAY_HOME."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from clipray import __version__
from clipray.cluster.procs import free_ports
from tests.clirun import clipray, status
from tests.conftest import pid_gone

JOIN_HEAD = """
import json, ray
from clipray.cluster.services import connect_ray
from clipray.config import Settings
address = connect_ray(Settings())
print(json.dumps([address, ray.cluster_resources()["CPU"]]))
"""


def test_version():
    res = clipray(Path("/nonexistent"), "--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"clipray {__version__}"


def test_lifecycle_up_status_up_again_down(tmp_path):
    home = tmp_path / "home"
    try:
        first = clipray(home, "up")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "S3 started" in first.stdout
        assert "buckets created: clipray-media, clipray-clips" in first.stdout
        assert "Ray started" in first.stdout

        st = status(home)
        assert st["s3"]["state"] == "running"
        assert st["ray"]["state"] == "running"
        assert st["database"]["revision"] == st["database"]["head"]
        assert st["workspace"]["slug"] == "local"
        assert len(st["workspace"]["id"]) == 32
        pids = (st["s3"]["pid"], st["ray"]["pid"])

        again = clipray(home, "up")
        assert again.returncode == 0, again.stderr
        assert "S3 running" in again.stdout
        assert "Ray running" in again.stdout
        assert "buckets created" not in again.stdout
        st2 = status(home)
        assert (st2["s3"]["pid"], st2["ray"]["pid"]) == pids
        assert st2["workspace"]["id"] == st["workspace"]["id"]

        # --workspace names another one, created on first use.
        other = status(home, "--workspace", "team-b")
        assert other["workspace"]["slug"] == "team-b"
        assert other["workspace"]["id"] != st["workspace"]["id"]

        # A driver joins the head that `up` started (1 CPU, as configured).
        joined = subprocess.run(
            [sys.executable, "-c", JOIN_HEAD],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**os.environ, "CLIPRAY_HOME": str(home)},
        )
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert json.loads(joined.stdout.strip().splitlines()[-1]) == [st["ray"]["address"], 1.0]

        # `serve` deploys the API on that head, with the job runner, and returns (--detach).
        (port,) = free_ports(1)
        served = clipray(home, "serve", "--detach", "--port", str(port))
        assert served.returncode == 0, served.stdout + served.stderr
        assert f"API at http://127.0.0.1:{port}" in served.stdout
        health = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=30)
        assert health.status_code == 200, health.text
        assert health.json()["checks"] == {"database": "ok", "s3": "ok", "ray": "ok",
                                           "generated_clips": "ok"}  # fmt: skip
        account = {"email": "cli@example.com", "password": "a long password"}
        reg = requests.post(f"http://127.0.0.1:{port}/api/auth/register", json=account, timeout=30)
        assert reg.status_code == 201, reg.text
        login = requests.post(f"http://127.0.0.1:{port}/api/auth/login", json=account, timeout=30)
        assert login.status_code == 200, login.text
        # the signing key was generated on first use, readable by its owner only
        assert (home / "jwt-secret").stat().st_mode & 0o777 == 0o600

        # Bad input to the analysis is one line with the reason, and nothing is written.
        missing = clipray(home, "analyze", str(tmp_path / "missing.mp4"))
        assert missing.returncode == 1
        assert "no such file" in missing.stderr
        not_video = tmp_path / "notes.mp4"
        not_video.write_text("not a video")
        bad = clipray(home, "analyze", str(not_video))
        assert bad.returncode == 1
        assert "not a readable video" in bad.stderr

        doctor = clipray(home, "doctor", "--json")
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks["s3"]["level"] == "ok"
        assert checks["database"]["level"] == "ok"
        assert checks["ray"]["level"] == "ok"
    finally:
        down = clipray(home, "down")
    assert down.returncode == 0, down.stderr
    assert "ray: stopped" in down.stdout
    assert "s3: stopped" in down.stdout
    for pid in pids:
        assert pid_gone(pid)
    st3 = status(home)
    assert st3["s3"]["state"] == "stopped"
    assert st3["ray"]["state"] == "stopped"
    assert clipray(home, "down").stdout.count("was not running") == 2


def _doctor(home: Path, env: dict[str, str]) -> tuple[int, dict[str, dict]]:
    res = clipray(home, "doctor", "--json", env=env)
    report = json.loads(res.stdout)
    return res.returncode, {c["name"]: c for c in report["checks"]}


def test_doctor_reports_a_missing_ffmpeg_with_the_fix(tmp_path):
    code, checks = _doctor(
        tmp_path,
        {
            "CLIPRAY_FFMPEG_BIN": "ffmpeg-not-installed",
            "CLIPRAY_FFPROBE_BIN": "ffprobe-not-installed",
        },
    )
    assert code == 1
    assert checks["ffmpeg"]["level"] == "fail"
    assert "apt-get install -y ffmpeg" in checks["ffmpeg"]["fix"]
    assert checks["ffprobe"]["level"] == "fail"


def test_doctor_finds_ffmpeg_missing_from_path(tmp_path):
    code, checks = _doctor(tmp_path, {"PATH": str(tmp_path)})
    assert code == 1
    assert checks["ffmpeg"]["level"] == "fail"
    assert checks["ffmpeg"]["fix"]


def test_doctor_reports_an_unreachable_s3_with_the_fix(tmp_path):
    (port,) = free_ports(1)
    code, checks = _doctor(
        tmp_path,
        {
            "CLIPRAY_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "CLIPRAY_S3_ACCESS_KEY_ID": "x",
            "CLIPRAY_S3_SECRET_ACCESS_KEY": "y",
        },
    )
    assert code == 1
    assert checks["s3"]["level"] == "fail"
    assert "unreachable" in checks["s3"]["detail"]
    assert "CLIPRAY_S3_ENDPOINT_URL" in checks["s3"]["fix"]


def test_analyze_with_a_configured_database_before_up_says_what_to_do(tmp_path):
    """A configured service is never started for the user (the embedded ones are: see
    tests/cli/test_first_use.py); the command says what to do."""
    db_url = f"sqlite:///{tmp_path / 'configured.db'}"
    res = clipray(tmp_path, "analyze", str(tmp_path / "x.mp4"),
                  env={"CLIPRAY_DATABASE_URL": db_url})  # fmt: skip
    assert res.returncode == 1
    assert "clipray up" in res.stderr
    assert not (tmp_path / "s3").exists()


def test_doctor_says_how_to_start_the_embedded_s3_and_the_database(tmp_path):
    code, checks = _doctor(tmp_path, {})
    assert code == 1
    assert checks["s3"]["level"] == "fail"
    assert checks["s3"]["fix"] == "clipray up"
    assert checks["database"]["level"] == "fail"
    assert checks["database"]["fix"] == "clipray up"


def test_doctor_prints_fixes_for_people(tmp_path):
    res = clipray(tmp_path, "doctor", env={"CLIPRAY_FFMPEG_BIN": "ffmpeg-not-installed"})
    assert res.returncode == 1
    assert "FAIL ffmpeg" in res.stdout
    assert "fix: apt-get install -y ffmpeg" in res.stdout


@pytest.mark.parametrize("slug", ["Bad Name", "../x", "-dash"])
def test_a_bad_workspace_name_is_a_usage_error(tmp_path, slug):
    res = clipray(tmp_path, "--workspace", slug, "status")
    assert res.returncode == 2
    assert "--workspace" in res.stderr


def test_cuts_and_review_from_the_cli(tmp_path, up_home):
    """The CLI edits a source's cut points and approves a clip, which it exports by stream
    copy: the file has exactly the clip's frames."""
    from clipray.pipelines.ingest import ingest_path
    from clipray.storage.orm import Source, SourceOrigin
    from clipray.storage.vclips import CoverRepo
    from tests.conftest import MEDIA

    # A source as the analysis leaves it: stored, with its cover (counter.mp4: 30 frames at
    # 10 fps; one scene cut at frame 10).
    db, ws_id = up_home.db, up_home.workspace_id
    counter = MEDIA / "scene_cuts/pyscenedetect/counter.mp4"
    ctx = up_home.ingest_context()
    sid = ingest_path(ctx, counter, SourceOrigin.LOCAL, counter.name).source.id
    with db.session() as s:
        CoverRepo(s, ws_id).create_cover(s.get(Source, sid), 30, "10/1", [10])
    db.dispose()

    listed = up_home.run("sources", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)["sources"]] == [sid]
    add = up_home.run("cuts", "add", sid, "20", "--version", "0")
    assert add.returncode == 0, add.stderr
    assert "[10] -> [10, 20]" in add.stdout
    stale = up_home.run("cuts", "remove", sid, "20", "--version", "0")
    assert stale.returncode == 2
    assert "error: CUT_VERSION_CONFLICT: the source's cut points changed" in stale.stderr
    crossing = up_home.run("cuts", "move", sid, "20", "5")
    assert crossing.returncode == 2
    assert "error: CUT_WOULD_CROSS:" in crossing.stderr
    cover = json.loads(up_home.run("cuts", "list", sid, "--json").stdout)
    assert [(c["start_frame"], c["end_frame"]) for c in cover["clips"]] == [
        (0, 10), (10, 20), (20, 30)]  # fmt: skip
    history = json.loads(up_home.run("cuts", "history", sid, "--json").stdout)["edits"]
    assert [(e["op"], e["frame"]) for e in history] == [("add", 20)]

    middle = cover["clips"][1]["id"]
    done = up_home.run("review", middle, "approved", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exported 10 frames by copy" in done.stdout
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
         "-of", "csv=p=0", str(tmp_path / "out" / f"{middle}.mp4")],
        capture_output=True, text=True, check=True)  # fmt: skip
    assert probe.stdout.strip() == "10"
    bad = up_home.run("review", middle, "maybe")
    assert bad.returncode == 2

    undo = up_home.run("cuts", "undo", sid)
    assert undo.returncode == 0, undo.stderr
    assert "[10, 20] -> [10]" in undo.stdout

    # generated clips: keep one, sweep a week and a day later, the other is purged
    from datetime import timedelta

    from clipray.storage.keys import object_key
    from clipray.storage.orm import GeneratedClip, GeneratedStatus, new_id, utcnow

    store = up_home.buckets.generated.scoped(ws_id)
    made = []
    for _ in range(2):
        cand = new_id()
        key = object_key(ws_id, "clips", cand, "clip.mp4")
        store.put_bytes(key, b"x" * 100, "video/mp4")
        with db.session() as s:
            week = utcnow() + timedelta(days=7)
            row = GeneratedClip(workspace_id=ws_id, candidate_id=cand, storage_key=key,
                                size_bytes=100, expires_at=week)  # fmt: skip
            s.add(row)
            s.flush()
            made.append((row.id, key))
    keep = up_home.run("clips", "keep", made[0][0])
    assert keep.returncode == 0, keep.stderr
    assert "kept" in keep.stdout
    assert up_home.run("clips", "keep", new_id()).returncode == 2
    later = (utcnow() + timedelta(days=8)).isoformat()
    swept = up_home.run("retention", "sweep", "--now", later, "--json")
    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout)["purged"] == 1
    with db.session() as s:
        assert s.get(GeneratedClip, made[0][0]).status is GeneratedStatus.KEPT
        assert s.get(GeneratedClip, made[1][0]).status is GeneratedStatus.PURGED
    db.dispose()
    assert store.head(made[0][1]) is not None
    assert store.head(made[1][1]) is None
    bad = up_home.run("retention", "sweep", "--now", "next tuesday")
    assert bad.returncode == 2


def test_a_coded_refusal_is_one_line_with_its_code_and_exit_code_2(tmp_path, up_home):
    """A CodedError escaping any command is printed once, by the entry point, as
    ``error: CODE: message`` with exit code 2; nothing is recorded. A user error without a
    code keeps exit code 1."""
    from clipray.storage.orm import HighlightReel, new_id

    missing = new_id()
    refused = up_home.run("reel", f"{missing}:0-5", "--json")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip() == f"error: SOURCE_NOT_FOUND: moment 0: no source {missing}"
    assert refused.stdout == ""
    with up_home.db.session() as s:
        assert s.query(HighlightReel).count() == 0
    up_home.db.dispose()
    gone = up_home.run("clips", "keep", missing)
    assert gone.returncode == 2
    assert gone.stderr.strip() == (f"error: GENERATED_CLIP_NOT_FOUND: generated_clip "
                                   f"{missing} not found")  # fmt: skip
    uncoded = up_home.run("analyze", str(tmp_path / "missing.mp4"))
    assert uncoded.returncode == 1
    assert uncoded.stderr.startswith("error: ")


def test_the_cli_and_the_api_make_the_same_cut_edits(tmp_path, api_settings, api_db, buckets,
                                                     short_talk):  # fmt: skip
    """Both doors call one service: on one source, an edit made by the CLI is what the API
    shows and the API's edit is what the CLI shows, with the same audit rows, and a refusal
    has the same code and message at both (409/422 over HTTP, exit 2 on the command line)."""
    from fastapi.testclient import TestClient

    from clipray.cluster.services import ensure_workspace
    from clipray.pipelines.ingest import IngestContext, ingest_path
    from clipray.serve.app import create_api
    from clipray.storage.orm import Role, Source, SourceOrigin
    from clipray.storage.repos import WorkspaceRepo
    from clipray.storage.vclips import CoverRepo
    from tests.apiclient import register

    slug = "both-doors"
    ws = ensure_workspace(api_db, slug)  # the CLI's workspace; alice edits it as a member
    ctx = IngestContext(buckets, api_db, ws.id, api_settings.ffprobe_bin)
    sid = ingest_path(ctx, short_talk, SourceOrigin.LOCAL, short_talk.name).source.id
    with api_db.session() as s:
        CoverRepo(s, ws.id).create_cover(s.get(Source, sid), 400, "25/1", [200])
    env = {"CLIPRAY_DATABASE_URL": api_settings.resolved_database_url, "CLIPRAY_WORKSPACE": slug}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return clipray(tmp_path / "home", *args, env=env, timeout=120)

    def cli_json(*args: str) -> dict:
        res = cli(*args, "--json")
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    with TestClient(create_api(api_settings)) as client:
        alice = register(client, "alice")
        with api_db.session() as s:
            WorkspaceRepo(s).add_member(ws.id, alice.id, Role.EDITOR)
        h = {**alice.headers, "X-Workspace-Id": ws.id}
        api = f"/api/sources/{sid}"

        def api_cover() -> list[tuple[str, int, int, str]]:
            body = client.get(f"{api}/clips", headers=h).json()
            return [(c["id"], c["start_frame"], c["end_frame"], c["review"]) for c in body["clips"]]

        def cli_cover() -> list[tuple[str, int, int, str]]:
            body = cli_json("cuts", "list", sid)
            return [(c["id"], c["start_frame"], c["end_frame"], c["review"]) for c in body["clips"]]

        added = cli("cuts", "add", sid, "100", "--version", "0")
        assert added.returncode == 0, added.stderr
        assert "[200] -> [100, 200] (version 1)" in added.stdout
        assert api_cover() == cli_cover()
        assert [(a, b) for _, a, b, _ in api_cover()] == [(0, 100), (100, 200), (200, 400)]

        moved = client.patch(f"{api}/cuts/100", headers=h, json={"to": 150, "version": 1})
        assert moved.status_code == 200, moved.text
        assert cli_cover() == api_cover()
        assert [(a, b) for _, a, b, _ in cli_cover()] == [(0, 150), (150, 200), (200, 400)]

        # one audit trail, whoever edited: the CLI's rows are the API's rows
        cli_edits = cli_json("cuts", "history", sid)["edits"]
        api_edits = client.get(f"{api}/cuts/history", headers=h).json()["data"]
        assert [(e["version"], e["op"], e["frame"], e["to"], e["user_id"], e["cuts_before"],
                 e["cuts_after"]) for e in cli_edits] == [
            (e["version"], e["op"], e["frame"], e["to"], e["user_id"], e["cuts_before"],
             e["cuts_after"]) for e in api_edits]  # fmt: skip
        assert [e["user_id"] == alice.id for e in api_edits] == [True, False]

        # the same refusals: a stale version, a cut that would cross another
        for args, (method, path, body) in [
            (("add", "120", "--version", "1"), ("post", "cuts", {"frame": 120, "version": 1})),
            (("move", "150", "250"), ("patch", "cuts/150", {"to": 250})),
            (("remove", "7"), ("delete", "cuts/7", None)),
        ]:
            before = api_cover()
            kwargs = {"json": body} if body is not None else {}
            resp = getattr(client, method)(f"{api}/{path}", headers=h, **kwargs)
            refused = cli("cuts", args[0], sid, *args[1:])
            error = resp.json()["error"]
            assert resp.status_code in (409, 422)
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert f"{error['code']}: {error['message']}" in refused.stderr
            assert api_cover() == before == cli_cover()

        # undo is per user: the CLI's undo reverts the CLI's add, which the move replaced
        stale = cli("cuts", "undo", sid)
        assert stale.returncode == 2
        assert "UNDO_STALE" in stale.stderr
        undone = client.post(f"{api}/cuts/undo", headers=h, json={})
        assert undone.status_code == 200, undone.text
        assert [(a, b) for _, a, b, _ in cli_cover()] == [(0, 100), (100, 200), (200, 400)]
