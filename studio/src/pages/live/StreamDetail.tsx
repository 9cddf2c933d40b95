import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { followStream } from "./feed";
import { type FeedMessage, type StreamClip, type StreamHealth, type StreamMonitor, secs } from "./types";

const HEALTH_MS = 5_000;
const FEED_KEEP = 100;

/** A stream clip's player, its URL asked for on the first Play: a <video> cannot send the
 * bearer token, so it plays the short-lived presigned URL the API signs (asked late, so a
 * page left open does not hold fifty URLs that have expired). */
function ClipPlayer({ clip }: { clip: StreamClip }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  async function play() {
    setError(null);
    try {
      const got = await api.get<{ url: string }>(`/api/generated-clips/${encodeURIComponent(clip.id)}/watch-url`);
      setUrl(got.url);
    } catch (err) {
      setError(err);
    }
  }
  if (url) {
    return <video className="stream-clip-video" src={url} controls autoPlay muted playsInline aria-label={`play ${clip.title || "clip"}`} />;
  }
  return (
    <>
      <button type="button" className="stream-clip-play" onClick={() => void play()}>
        ▶ Play
      </button>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </>
  );
}

/** One stream: its health, the events and clips arriving live (WebSocket), its clips with the
 * window they cover and the events that made them. */
export function StreamDetail({
  monitor,
  workspaceId,
  onStatus,
  onClips,
}: {
  monitor: StreamMonitor;
  workspaceId: string;
  onStatus: (status: string) => void;
  /** The stream's clip count, each time its clips are read (a clip message brings a new one). */
  onClips?: (count: number) => void;
}) {
  const [health, setHealth] = useState<StreamHealth | null>(null);
  const [clips, setClips] = useState<StreamClip[] | null>(null);
  const [feed, setFeed] = useState<FeedMessage[]>([]);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const path = `/api/streams/${encodeURIComponent(monitor.id)}`;

  const loadClips = useCallback(async () => {
    try {
      const page = await api.get<Page<StreamClip>>(`${path}/clips?limit=50`);
      setClips(page.data);
      onClips?.(page.total);
    } catch (err) {
      setError(err);
    }
  }, [path]);

  useEffect(() => {
    const stop = new AbortController();
    const tick = () =>
      api.get<StreamHealth>(`${path}/health`, stop.signal).then(setHealth, (err) => !stop.signal.aborted && setError(err));
    void tick();
    void loadClips();
    const timer = window.setInterval(tick, HEALTH_MS);
    return () => {
      stop.abort();
      window.clearInterval(timer);
    };
  }, [path, loadClips]);

  useEffect(
    () =>
      followStream(
        monitor.id,
        workspaceId,
        (m) => {
          if (m.type === "error") {
            setError(new Error(JSON.stringify(m.error)));
            return;
          }
          setFeed((list) => [m, ...list].slice(0, FEED_KEEP));
          if (m.type === "status" && m.status) onStatus(m.status);
          if (m.type === "end") onStatus(m.status ?? "stopped");
          if (m.type === "clip") void loadClips();
        },
        setConnected,
      ),
    // onStatus changes with every render of the list; the feed follows the monitor only.
    [monitor.id, workspaceId, loadClips],
  );

  return (
    <section className="card stream-detail" aria-labelledby="stream-heading">
      <h2 id="stream-heading">
        {monitor.push ? "Push ingest" : "Stream"} <span className={`badge status-${monitor.status}`}>{monitor.status}</span>{" "}
        <span className={`badge ${connected ? "status-completed" : ""}`}>{connected ? "live feed" : "feed offline"}</span>
      </h2>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      <dl className="health" aria-label="health">
        <dt>Stream time</dt>
        <dd>{secs(health?.stream_time_s)}</dd>
        <dt>Buffer</dt>
        <dd>{secs(health?.buffer_seconds)}</dd>
        <dt>Ingest lag</dt>
        <dd>{secs(health?.ingest_lag_s)}</dd>
        <dt>Transcript lag</dt>
        <dd>{secs(health?.transcript_lag_s)}</dd>
        <dt>Event → clip (p50 / p95)</dt>
        <dd>
          {secs(health?.latency_p50_s)} / {secs(health?.latency_p95_s)}
        </dd>
      </dl>
      <div className="stream-columns">
        <div>
          <h3>Live</h3>
          {feed.length === 0 && <p className="muted">Waiting for events…</p>}
          <ol className="feed" aria-label="live events" aria-live="polite">
            {feed.map((m) => (
              <li key={`${m.seq}-${m.type}`} className={`feed-${m.type}`} data-type={m.type}>
                <span className="badge">{m.type === "event" ? m.kind : m.type}</span>{" "}
                {m.type === "event" && `${secs(m.t_start)} – ${secs(m.t_end)}`}
                {m.type === "clip" && `clip ${secs(m.stream_start)} – ${secs(m.stream_end)} (${(m.kinds ?? []).join(", ")})`}
                {(m.type === "status" || m.type === "end") && m.status}
              </li>
            ))}
          </ol>
        </div>
        <div>
          <h3>Clips</h3>
          {clips?.length === 0 && <p className="muted">No clips yet.</p>}
          <ul className="stream-clips" aria-label="stream clips">
            {clips?.map((c) => (
              <li key={c.id} className="stream-clip" data-clip-id={c.id}>
                <strong>{c.title || "Untitled"}</strong>
                <span>
                  Window {secs(c.stream_start)} – {secs(c.stream_end)} · {c.duration_s.toFixed(1)} s
                  {c.latency_s !== null && ` · latency ${secs(c.latency_s)}`}
                </span>
                <span className="reasons">
                  {c.events
                    .filter((e) => e.kind)
                    .map((e) => `${e.kind} ${secs(e.t_start)}–${secs(e.t_end)}`)
                    .join("; ")}
                </span>
                <ClipPlayer clip={c} />
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}
