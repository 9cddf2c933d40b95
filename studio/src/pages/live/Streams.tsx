import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { href, navigate } from "../../router";
import { NewStream } from "./NewStream";
import { StreamDetail } from "./StreamDetail";
import { RUNNING, type StreamMonitor } from "./types";
import "./live.css";

const REFRESH_MS = 5_000;

/** The workspace's stream monitors with their controls; one opened shows its live feed. */
export function Streams({ workspaceId, streamId }: { workspaceId: string; streamId?: string }) {
  const [monitors, setMonitors] = useState<StreamMonitor[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setMonitors((await api.get<Page<StreamMonitor>>("/api/streams?limit=50", signal)).data);
      setError(null);
    } catch (err) {
      if (!signal?.aborted) setError(err);
    }
  }, []);

  useEffect(() => {
    const stop = new AbortController();
    void load(stop.signal);
    const timer = window.setInterval(() => void load(stop.signal), REFRESH_MS);
    return () => {
      stop.abort();
      window.clearInterval(timer);
    };
  }, [load]);

  const control = async (m: StreamMonitor, action: "pause" | "resume" | "stop") => {
    try {
      const path = `/api/streams/${encodeURIComponent(m.id)}`;
      const row = action === "stop" ? await api.delete<StreamMonitor>(path) : await api.post<StreamMonitor>(`${path}/${action}`);
      setMonitors((list) => list?.map((x) => (x.id === row.id ? row : x)) ?? null);
    } catch (err) {
      setError(err);
    }
  };

  const open = monitors?.find((m) => m.id === streamId);
  return (
    <main className="live-page">
      <NewStream
        onCreated={(id) => {
          void load();
          navigate({ page: "streams", streamId: id });
        }}
      />
      <section className="card" aria-labelledby="monitors-heading">
        <h2 id="monitors-heading">Stream monitors</h2>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {monitors === null && !error && <p className="muted">Loading…</p>}
        {monitors?.length === 0 && <p className="muted">No streams watched yet: start one.</p>}
        <ul className="monitor-list">
          {monitors?.map((m) => (
            <li key={m.id} className={`monitor${m.id === streamId ? " selected" : ""}`} data-stream-id={m.id}>
              <div className="monitor-head">
                <span className={`badge status-${m.status}`} data-testid="stream-status">
                  {m.status}
                </span>
                <a className="monitor-url" href={href({ page: "streams", streamId: m.id })} title={m.url ?? "push ingest"}>
                  {m.push ? "Push ingest" : m.url}
                </a>
                <span className="muted">{m.clips_generated} clips</span>
              </div>
              {m.last_error && <p className="job-error">{m.last_error}</p>}
              <div className="job-actions">
                {RUNNING.includes(m.status) && (
                  <button type="button" onClick={() => void control(m, "pause")}>
                    Pause
                  </button>
                )}
                {(m.status === "paused" || m.status === "error") && (
                  <button type="button" onClick={() => void control(m, "resume")}>
                    Resume
                  </button>
                )}
                {m.status !== "stopped" && (
                  <button type="button" onClick={() => void control(m, "stop")}>
                    Stop
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      </section>
      {open && (
        <StreamDetail
          key={open.id}
          monitor={open}
          workspaceId={workspaceId}
          onStatus={(status) => setMonitors((list) => list?.map((x) => (x.id === open.id ? { ...x, status } : x)) ?? null)}
          onClips={(count) => setMonitors((list) => list?.map((x) => (x.id === open.id ? { ...x, clips_generated: count } : x)) ?? null)}
        />
      )}
    </main>
  );
}
