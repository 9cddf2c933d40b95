import { useEffect, useState, type DragEvent, type FormEvent } from "react";
import { api } from "../../api/client";
import type { HighlightJob, SearchHit, SearchResults } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import { base64Of, fitWithin, PICTURE_TYPES, searchBody, SEND_AS_IS_BYTES, SHRINK_TO, type Mode } from "./picture";
import { stamp } from "./stamp";
import { Tray } from "./Tray";
import "./pages.css";

const POLL_MS = 1500;

interface Picture {
  name: string;
  file: File;
  /** An object URL of the file, for its preview. */
  url: string;
}

/** The picture's bytes as sent: as they are when small, else scaled down in a canvas (the
 * browser decodes it, upright by its EXIF orientation). What the browser cannot decode is
 * sent as it is, for the server to refuse with its code. */
async function sendable(file: File): Promise<Blob> {
  if (file.size <= SEND_AS_IS_BYTES) return file;
  try {
    const bitmap = await createImageBitmap(file);
    const [w, h] = fitWithin(bitmap.width, bitmap.height, SHRINK_TO);
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d")?.drawImage(bitmap, 0, 0, w, h);
    bitmap.close();
    const jpeg = await new Promise<Blob | null>((done) => canvas.toBlob(done, "image/jpeg", 0.9));
    return jpeg ?? file;
  } catch {
    return file;
  }
}

function same(a: SearchHit, b: SearchHit): boolean {
  return a.source_id === b.source_id && a.start === b.start && a.end === b.end;
}

/** Search the workspace's videos, pick moments into a tray, order them and export a reel. */
export function Search() {
  const canEdit = useCanEdit();
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<Mode>("hybrid");
  const [picture, setPicture] = useState<Picture | null>(null);
  const [dropping, setDropping] = useState(false);
  const [results, setResults] = useState<(SearchResults & { query: string }) | null>(null);
  const [busy, setBusy] = useState(false);
  const [tray, setTray] = useState<SearchHit[]>([]);
  const [title, setTitle] = useState("");
  const [reel, setReel] = useState<HighlightJob | null>(null);
  const [error, setError] = useState<unknown>(null);

  // The preview's object URL lives as long as its picture is picked.
  useEffect(() => (picture ? () => URL.revokeObjectURL(picture.url) : undefined), [picture]);

  function pick(file: File | undefined) {
    if (file) setPicture({ name: file.name, file, url: URL.createObjectURL(file) });
  }

  function drop(e: DragEvent) {
    e.preventDefault();
    setDropping(false);
    pick(e.dataTransfer.files[0]);
  }

  async function search(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const image = picture ? base64Of(new Uint8Array(await (await sendable(picture.file)).arrayBuffer())) : null;
      const page = await api.post<SearchResults>("/api/search", searchBody(query, mode, image, 20));
      setResults({ ...page, query: picture ? `picture:${picture.name}` : query });
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
        <form
          className={`search-bar${dropping ? " dropping" : ""}`}
          role="search"
          onSubmit={search}
          onDragOver={(e) => {
            e.preventDefault();
            setDropping(true);
          }}
          onDragLeave={() => setDropping(false)}
          onDrop={drop}
          data-testid="search-drop"
        >
          <label className="grow">
            Query
            <input
              name="query"
              type="search"
              value={picture ? "" : query}
              maxLength={500}
              required
              disabled={picture !== null}
              placeholder={picture ? "searching by the picture" : "words, or drop a picture here"}
              onChange={(e) => setQuery(e.target.value)}
            />
          </label>
          <label>
            Mode
            <select value={picture ? "visual" : mode} disabled={picture !== null} onChange={(e) => setMode(e.target.value as Mode)}>
              <option value="hybrid">words and frames</option>
              <option value="transcript">words</option>
              <option value="visual">frames</option>
            </select>
          </label>
          {picture ? (
            <span className="picked" data-testid="picked-picture">
              {picture.file.type.startsWith("image/") ? (
                <img src={picture.url} alt={`picture to search by: ${picture.name}`} />
              ) : (
                <span className="picked-name">{picture.name}</span>
              )}
              <button type="button" className="link" aria-label="remove the picture" onClick={() => setPicture(null)}>
                ×
              </button>
            </span>
          ) : (
            <label className="button picture-pick">
              Picture
              <input
                type="file"
                accept={PICTURE_TYPES.join(",")}
                aria-label="Picture"
                onChange={(e) => {
                  pick(e.target.files?.[0]);
                  e.target.value = ""; // the same file picked again is a change too
                }}
              />
            </label>
          )}
          <button type="submit" className="primary" disabled={busy || (!picture && !query.trim())}>
            {busy ? "Searching…" : "Search"}
          </button>
        </form>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {results && (
          <p className="muted" role="status" data-query={results.query}>
            {results.total} moment{results.total === 1 ? "" : "s"}
            {results.query.startsWith("picture:") ? ` like ${results.query.slice(8)}` : ""}
            {results.visual === "unavailable" ? " (frames not searched: no visual model)" : ""}
          </p>
        )}
        <ul className="hits">
          {results?.results.map((h) => {
            const picked = tray.some((t) => same(t, h));
            return (
              <li key={`${h.source_id}-${h.start}-${h.end}`} className="hit" data-testid="hit" data-source={h.source_id}>
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
