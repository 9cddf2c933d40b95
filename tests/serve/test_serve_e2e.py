"""The API through real Ray Serve over HTTP: a client's whole path from registering to a
downloaded clip, then schemathesis fuzzing the OpenAPI schema of the running app."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import ray
import requests

from clipray.actors.job_runner import job_runner
from clipray.actors.publisher import publisher
from clipray.actors.retention import retention_keeper
from clipray.actors.stream_supervisor import stream_supervisor
from clipray.cluster.procs import free_ports
from tests.apiclient import Account, register, upload
from tests.conftest import cancel_active_jobs

pytestmark = pytest.mark.timeout(900)


class Http:
    """requests with a base URL, shaped like a TestClient for the shared helpers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.s = requests.Session()

    def __getattr__(self, method: str):  # get, post, patch, delete
        call = getattr(self.s, method)
        return lambda path, **kw: call(self.base + path, timeout=kw.pop("timeout", 60), **kw)


@pytest.fixture(scope="module")
def served(api_settings, ray_local, api_db, random_clip) -> Iterator[Http]:
    """The app on Serve; its encoder deployment has CLIP (random weights), so that a search
    by picture crosses the handle (jobs run without CLIP: their frames are not indexed)."""
    from ray import serve

    from clipray.serve.app import Ingress
    from clipray.serve.encoders import QueryEncoderDeployment

    cancel_active_jobs(api_db)  # the runner the ingress starts sees only this module's jobs
    (port,) = free_ports(1)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        encoders = QueryEncoderDeployment.bind(api_settings.model_copy(update=random_clip))
        app = Ingress.bind(api_settings, encoders=encoders)
        serve.run(app, name="clipray", route_prefix="/")
        yield Http(f"http://127.0.0.1:{port}")
    finally:
        cancel_active_jobs(api_db)
        serve.shutdown()
        # the ingress started them
        for handle in (job_runner(), retention_keeper(), stream_supervisor(), publisher()):
            if handle is not None:
                ray.kill(handle, no_restart=True)


def sse(resp: requests.Response) -> Iterator[tuple[str, dict]]:
    event, data = "", []
    for line in resp.iter_lines(decode_unicode=True):
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif line == "" and event:
            yield event, json.loads("".join(data))
            event, data = "", []


def test_health_through_serve(served):
    resp = served.get("/api/health")
    assert resp.status_code == 200, resp.text
    checks = {"database": "ok", "s3": "ok", "ray": "ok", "generated_clips": "ok"}
    assert resp.json() == {"status": "ok", "checks": checks}


def test_from_registration_to_a_downloaded_clip(served, short_talk, tmp_path):
    acct: Account = register(served, "e2e")
    confirmed = upload(served, acct, short_talk)
    assert confirmed.status_code == 200, confirmed.text
    source = confirmed.json()
    assert (source["width"], source["height"]) == (480, 480)

    settings = {"max_clips": 1, "min_duration": 3.0, "max_duration": 10.0, "aspect": "9:16"}
    body = {"source_id": source["source_id"], "settings": settings}
    created = served.post("/api/jobs", headers=acct.headers, json=body)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    statuses, steps = [], []
    with served.get(f"/api/jobs/{job_id}/events", headers=acct.headers, stream=True,
                    timeout=600) as resp:  # fmt: skip
        assert resp.headers["content-type"].startswith("text/event-stream")
        for event, data in sse(resp):
            if event == "status" and (not statuses or statuses[-1] != data["status"]):
                statuses.append(data["status"])
            elif event == "step":
                steps.append((data["name"], data["status"]))
            elif event == "end":
                break
    assert statuses[-1] == "review", statuses
    order = ["created", "ingesting", "analyzing", "clips_generated", "rendering", "review"]
    assert [s for s in order if s in statuses] == statuses[statuses.index(statuses[0]) :]
    assert ("render", "succeeded") in steps

    job = served.get(f"/api/jobs/{job_id}", headers=acct.headers).json()
    assert [(s["name"], s["status"]) for s in job["steps"]] == [
        ("ingest", "succeeded"), ("analyze", "succeeded"), ("render", "succeeded")]  # fmt: skip
    assert all(s["duration_s"] is not None and s["duration_s"] >= 0 for s in job["steps"])
    assert job["progress"] == 1.0

    clips = served.get(f"/api/clips?job_id={job_id}", headers=acct.headers).json()
    assert (clips["total"], clips["page"], clips["pages"]) == (1, 1, 1)
    clip = clips["data"][0]
    assert {"id", "job_id", "start", "end", "score", "title", "status", "version"} <= set(clip)
    assert (clip["job_id"], clip["status"], clip["version"]) == (job_id, "rendered", 1)

    redirect = served.get(f"/api/clips/{clip['id']}/download", headers=acct.headers,
                          allow_redirects=False)  # fmt: skip
    assert redirect.status_code == 302
    video = requests.get(redirect.headers["location"], timeout=60)
    assert video.status_code == 200
    assert "attachment" in video.headers.get("content-disposition", "")
    path = tmp_path / "clip.mp4"
    path.write_bytes(video.content)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)], capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert "mp4" in probe["format"]["format_name"]
    assert abs(float(probe["format"]["duration"]) - (clip["end"] - clip["start"])) < 0.1
    video_stream = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video_stream["width"], video_stream["height"]) == (1080, 1920)

    # re-render with another aspect: a new version beside the first, rendered on the cluster
    again = served.post(f"/api/clips/{clip['id']}/rerender", headers=acct.headers,
                        json={"aspect": "1:1"})  # fmt: skip
    assert again.status_code == 202, again.text
    v2 = again.json()
    assert (v2["version"], v2["status"]) == (2, "pending")
    deadline = time.monotonic() + 300
    while v2["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(1)
        v2 = served.get(f"/api/clips/{v2['id']}", headers=acct.headers).json()
    assert v2["status"] == "rendered", v2
    versions = served.get(f"/api/clips/{clip['id']}/versions", headers=acct.headers).json()
    assert [v["version"] for v in versions] == [1, 2]
    same = served.post(f"/api/clips/{clip['id']}/rerender", headers=acct.headers,
                       json={"aspect": "1:1"}).json()  # fmt: skip
    assert same["id"] == v2["id"]  # the same settings again: the existing version
    square = served.get(f"/api/clips/{v2['id']}/download", headers=acct.headers,
                        allow_redirects=False).headers["location"]  # fmt: skip
    (tmp_path / "square.mp4").write_bytes(requests.get(square, timeout=60).content)
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams"]
    out = subprocess.run([*cmd, str(tmp_path / "square.mp4")], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    square_video = next(s for s in json.loads(out)["streams"] if s["codec_type"] == "video")
    assert (square_video["width"], square_video["height"]) == (1080, 1080)

    # the analysis made the source's virtual clips: its scenes, covering it exactly
    sid = source["source_id"]
    cover = served.get(f"/api/sources/{sid}/clips", headers=acct.headers).json()
    assert (cover["frame_count"], cover["frame_rate"]) == (400, "25/1")
    bounds = [(c["start_frame"], c["end_frame"]) for c in cover["clips"]]
    assert bounds[0][0] == 0
    assert bounds[-1][1] == 400
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert any(abs(start - 200) <= 2 for start, _ in bounds[1:])  # the cut at 8 s
    # approving one exports it on the cluster: the runner builds the proxy, then the export
    target = cover["clips"][-1]
    approved = served.patch(f"/api/sources/{sid}/clips/{target['id']}", headers=acct.headers,
                            json={"review": "approved"})  # fmt: skip
    assert approved.status_code == 200, approved.text
    deadline = time.monotonic() + 300
    export = approved.json()["export"]
    while export["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(1)
        export = served.get(f"/api/sources/{sid}/clips/{target['id']}",
                            headers=acct.headers).json()["export"]  # fmt: skip
    assert (export["status"], export["method"]) == ("done", "copy"), export
    frames = target["end_frame"] - target["start_frame"]
    assert export["frames"] == frames
    assert export["duration_s"] == pytest.approx(frames / 25, abs=1e-3)
    exported = served.get(f"/api/sources/{sid}/clips/{target['id']}/download",
                          headers=acct.headers, allow_redirects=False)  # fmt: skip
    assert exported.status_code == 302
    (tmp_path / "export.mp4").write_bytes(requests.get(exported.headers["location"],
                                                       timeout=60).content)  # fmt: skip
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_packets,duration", "-of", "json", str(tmp_path / "export.mp4")],
        capture_output=True, text=True, check=True).stdout  # fmt: skip
    stream = json.loads(out)["streams"][0]
    assert int(stream["nb_read_packets"]) == frames
    assert float(stream["duration"]) == pytest.approx(frames / 25, abs=1e-3)

    # the job's analysis indexed what was said: concurrent searches through the encoder
    # deployment (one batch) all find it, with the job that made it
    query = {"query": "ask what you can do for your country", "mode": "transcript", "limit": 3}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: served.post("/api/search", headers=acct.headers,
                                                      json=query), range(6)))  # fmt: skip
    assert all(a.status_code == 200 for a in answers), answers[0].text
    top = answers[0].json()["results"][0]
    assert (top["source_id"], top["job_id"]) == (sid, job_id)
    assert top["start"] < 11.0
    assert "country" in top["text"].lower()

    # the same moments in the same order: a query encoded in a batch of another size may
    # differ in its last float bits, and a link signed across an expiry step in its expiry
    def moments(answer):
        return [(r["source_id"], r["start"], r["end"], r["text"], r["thumbnail_url"].split("&")[0])
                for r in answer.json()["results"]]  # fmt: skip

    def scores(answer):
        return [r["score"] for r in answer.json()["results"]]

    assert all(moments(a) == moments(answers[0]) for a in answers)
    assert all(scores(a) == pytest.approx(scores(answers[0]), rel=1e-4) for a in answers)
    # a picture (a frame of the video) is decoded by the ingress and encoded by CLIP in the
    # encoder deployment: searched, though this job indexed no frames
    still = tmp_path / "still.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-ss", "2", "-i", str(short_talk),
                    "-frames:v", "1", str(still)], check=True)  # fmt: skip
    image = base64.b64encode(still.read_bytes()).decode()
    by_picture = served.post("/api/search", headers=acct.headers, json={"image": image})
    assert by_picture.status_code == 200, by_picture.text
    assert (by_picture.json()["visual"], by_picture.json()["results"]) == ("available", [])
    # a highlight reel of two of its moments, made by the job runner on the cluster
    reel = served.post("/api/highlights/export", headers=acct.headers, json={"moments": [
        {"source_id": sid, "start": 1.0, "end": 3.0}, {"source_id": sid, "start": 9.0, "end": 12.0}
    ]})  # fmt: skip
    assert reel.status_code == 202, reel.text
    deadline = time.monotonic() + 300
    state = reel.json()
    while state["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(1)
        state = served.get(f"/api/highlights/jobs/{state['id']}", headers=acct.headers).json()
    assert state["status"] == "succeeded", state
    assert state["duration_s"] == pytest.approx(5.0, abs=0.1)
    assert requests.get(state["url"], timeout=60).content[4:8] == b"ftyp"

    # a second user in another workspace sees none of it
    other = register(served, "e2e-other")
    assert served.post("/api/search", headers=other.headers, json=query).json()["results"] == []
    assert served.get(f"/api/jobs/{job_id}", headers=other.headers).status_code == 403
    assert served.get(f"/api/clips/{clip['id']}", headers=other.headers).status_code == 403
    assert served.get("/api/clips", headers=other.headers).json()["total"] == 0
    assert served.get(f"/api/sources/{sid}/clips", headers=other.headers).status_code == 403


def test_fuzzing_the_openapi_schema_finds_no_5xx(served):
    """schemathesis generates requests for every operation from the running app's schema,
    signed in (so the routes past authentication are reached): none may answer 5xx, and
    every error keeps the one shape."""
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings

    acct = register(served, "fuzz")
    headers = acct.headers
    schema = schemathesis.openapi.from_url(f"{served.base}/openapi.json")
    problems: list[str] = []
    answered: set[str] = set()  # operations that answered 2xx to a signed-in request

    def fuzz(op) -> None:
        @given(case=op.as_strategy())
        @hsettings(max_examples=15, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case) -> None:
            resp = case.call(base_url=served.base, headers=headers, timeout=30)
            where = f"{op.method.upper()} {op.path}"
            if resp.status_code < 300:
                answered.add(where)
            if resp.status_code >= 500:
                problems.append(f"{where}: {resp.status_code} {resp.text[:200]}")
            elif resp.status_code >= 400:
                body = resp.json()
                error = body.get("error") if isinstance(body, dict) else None
                if set(body) != {"error"} or not {"code", "message", "trace_id"} <= set(error):
                    problems.append(f"{where}: error shape {body}")

        check()

    operations = [result.ok() for result in schema.get_all_operations()]
    for op in operations:
        fuzz(op)
    assert len(operations) >= 25
    assert problems == []
    # the credentials worked: authenticated routes were reached, not just refused with 401
    assert {"GET /api/jobs", "GET /api/clips", "POST /api/workspaces"} <= answered


def test_websockets_pass_through_serve(served, api_db):
    """Serve's proxy hands WebSockets to the ingress: the subprotocol credential is echoed,
    a job's and a stream's messages arrive as text frames and the close code comes back."""
    from clipray.domain.stream_events import StreamEventType
    from clipray.domain.streams import MonitorStatus
    from clipray.storage import stream_events as feed
    from clipray.storage.orm import Job, JobStatus, StreamMonitor, utcnow
    from tests.serve.realtime import ws_closed, ws_connect, ws_messages

    acct = register(served, "sockets")
    with api_db.session() as s:
        job = Job(workspace_id=acct.workspace_id, kind="clips", status=JobStatus.REVIEW,
                  progress=1.0, params={})  # fmt: skip
        monitor = StreamMonitor(workspace_id=acct.workspace_id, url=None, settings={},
                                status=MonitorStatus.STOPPED, clips_generated=0)  # fmt: skip
        s.add_all([job, monitor])
        s.flush()
        feed.append(s, monitor.id, StreamEventType.STATUS, {"status": "stopped", "error": None},
                    utcnow())  # fmt: skip
        job_id, monitor_id = job.id, monitor.id
    ws = ws_connect(served.base, f"/ws/jobs/{job_id}", acct.access_token, subprotocol=True)
    assert ws.subprotocol == "bearer"
    got = ws_messages(ws, lambda m: m["type"] == "end")
    assert [(m["type"], m["seq"]) for m in got] == [("status", 1), ("end", 2)]
    assert got[0]["data"]["status"] == "review"
    assert ws_closed(ws) == (1000, "")
    ws = ws_connect(served.base, f"/ws/stream/{monitor_id}", acct.access_token)
    assert [m["type"] for m in ws_messages(ws, lambda m: m["type"] == "end")] == ["status", "end"]
    assert ws_closed(ws) == (1000, "")
    ws = ws_connect(served.base, f"/ws/stream/{monitor_id}", "not-a-token", subprotocol=True)
    assert ws_messages(ws, lambda m: True)[0]["error"]["code"] == "TOKEN_INVALID"
    assert ws_closed(ws) == (1008, "TOKEN_INVALID")
