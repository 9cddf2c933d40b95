import { useEffect, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { HighlightJob, SearchHit, SearchResults } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import { stamp } from "./stamp";
import { Tray } from "./Tray";
import "./pages.css";

const POLL_MS = 1500;
type Mode = "hybrid" | "transcript" | "visual";

function same(a: SearchHit, b: SearchHit): boolean {
  return a.source_id === b.source_id && a.start === b.start && a.end === b.end;
}

/** Search the workspace's videos, pick moments into a tray, order them and export a reel. */
export function Search() {
  const canEdit = useCanEdit();
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<Mode>("hybrid");
  const [results, setResults] = useState<(SearchResults & { query: string }) | null>(null);
  const [busy, setBusy] = useState(false);
  const [tray, setTray] = useState<SearchHit[]>([]);
  const [title, setTitle] = useState("");
  const [reel, setReel] = useState<HighlightJob | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function search(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const page = await api.post<SearchResults>("/api/search", { query, mode, limit: 20 });
      setResults({ ...page, query });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function exportReel() {
    setError(null);
    try {
      const moments = tray.map(({ source_id, start, end }) => ({ source_id, start, end }));
      setReel(await api.post<HighlightJob>("/api/highlights/export", { moments, title }));
    } catch (err) {
      setError(err);
    }
  }

  // The reel is made by the job runner: its state is polled until it ends.
  const pending = reel && (reel.status === "pending" || reel.status === "running");
  useEffect(() => {
    if (!reel || !pending) return;
    const stop = new AbortController();
    const timer = window.setTimeout(() => {
      api
        .get<HighlightJob>(`/api/highlights/jobs/${reel.id}`, stop.signal)
        .then(setReel)
        .catch((err) => !stop.signal.aborted && setError(err));
    }, POLL_MS);
    return () => {
      stop.abort();
      window.clearTimeout(timer);
    };
  }, [reel, pending]);

  return (
    <main className="search-page">
      <section className="card">
        <h2>Search</h2>
        <form className="search-bar" role="search" onSubmit={search}>
          <label className="grow">
            Query
            <input name="query" type="search" value={query} maxLength={500} required onChange={(e) => setQuery(e.target.value)} />
          </label>
          <label>
            Mode
            <select value={mode} onChange={(e) => setMode(e.target.value as Mode)}>
              <option value="hybrid">words and frames</option>
              <option value="transcript">words</option>
              <option value="visual">frames</option>
            </select>
          </label>
          <button type="submit" className="primary" disabled={busy || !query.trim()}>
            {busy ? "Searching…" : "Search"}
          </button>
        </form>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {results && (
          <p className="muted" role="status" data-query={results.query}>
            {results.total} moment{results.total === 1 ? "" : "s"}
            {results.visual === "unavailable" ? " (frames not searched: no visual model)" : ""}
          </p>
        )}
        <ul className="hits">
          {results?.results.map((h) => {
            const picked = tray.some((t) => same(t, h));
            return (
              <li key={`${h.source_id}-${h.start}-${h.end}`} className="hit" data-testid="hit">
                <img src={h.thumbnail_url} alt={`frame at ${stamp(h.start)}`} loading="lazy" />
                <div className="hit-meta">
                  <span>
                    <strong>
                      {stamp(h.start)}–{stamp(h.end)}
                    </strong>{" "}
                    <span className="badge">{h.mode}</span> <span className="muted">score {h.score.toFixed(3)}</span>
                  </span>
                  {h.text && <span className="hit-text">{h.text}</span>}
                  <span className="muted">source {h.source_id.slice(0, 8)}</span>
                </div>
                <button type="button" disabled={picked} onClick={() => setTray((t) => [...t, h])}>
                  {picked ? "In tray" : "Add to tray"}
                </button>
              </li>
            );
          })}
        </ul>
      </section>
      <section className="card" aria-label="highlight reel">
        <h2>Tray</h2>
        <Tray items={tray} onChange={setTray} />
        {canEdit && tray.length > 0 && (
          <div className="reel-export">
            <label className="grow">
              Reel title
              <input name="reel-title" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
            </label>
            <button type="button" className="primary" disabled={Boolean(pending)} onClick={() => void exportReel()}>
              Export reel
            </button>
          </div>
        )}
        {reel && (
          <p className="reel-status" data-testid="reel-status" data-status={reel.status}>
            Reel <code>{reel.id.slice(0, 8)}</code>: <span className={`badge status-${reel.status}`}>{reel.status}</span>
            {reel.duration_s !== null && <span className="muted"> · {reel.duration_s.toFixed(1)} s</span>}
            {reel.error && <span className="step-error"> — {reel.error}</span>}
            {reel.url && (
              <>
                {" "}
                <a className="button" href={reel.url} download={`${reel.title || "highlight-reel"}.mp4`} data-testid="reel-download">
                  Download reel
                </a>
              </>
            )}
          </p>
        )}
      </section>
    </main>
  );
}
