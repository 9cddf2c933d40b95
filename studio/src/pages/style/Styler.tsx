import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import type { Clip } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import { href } from "../../router";
import { Downloads } from "./Downloads";
import { fileUrl, usePreview, type CaptionStyles } from "./files";
import { RerenderEffects } from "./RerenderEffects";
import "./style.css";

/** How often the versions are read again while one of them renders. */
const POLL_MS = 2000;

/** One caption style drawn on a frame of the clip by the server's own render path. */
function StyleCard({ clip, style, aspect, current, busy, onPick }: {
  clip: Clip; style: string; aspect: string; current: boolean; busy: boolean; onPick: () => void;
}) {
  const { url, error } = usePreview(clip, style, aspect);
  const canEdit = useCanEdit(); // a viewer sees the previews, not the re-render
  const name = style.replace(/_/g, " ");
  return (
    <li className={`style-card card${current ? " current" : ""}`} data-style={style}>
      <div className={`style-frame aspect-${aspect.replace(":", "x")}`}>
        {url ? (
          <img src={url} alt={`${name} captions on a frame of the clip`} data-testid="style-preview" />
        ) : error ? (
          <ErrorBox error={error} />
        ) : (
          <span className="muted" role="status">
            rendering…
          </span>
        )}
      </div>
      <div className="style-meta">
        <strong>{name}</strong>
        {current && <span className="badge">current</span>}
        {canEdit && (
          <button type="button" className={current ? "" : "primary"} disabled={busy || current} onClick={onPick} aria-label={`Use ${name}`}>
            Use
          </button>
        )}
      </div>
    </li>
  );
}

/** A version in the list: its settings, state, a play button and its downloads. */
function VersionRow({ v, playing, onPlay }: { v: Clip; playing: boolean; onPlay: () => void }) {
  return (
    <li className="version" data-clip-id={v.id} data-version={v.version} data-status={v.status}>
      <span>
        <strong>v{v.version}</strong> · {(v.captions ?? "?").replace(/_/g, " ")} · {v.aspect ?? "?"} ·{" "}
        <span className={`badge status-${v.status}`}>{v.status}</span>
      </span>
      {v.error && <span className="muted">{v.error}</span>}
      {v.status === "rendered" && (
        <>
          <button type="button" aria-pressed={playing} onClick={onPlay} aria-label={`Play version ${v.version}`}>
            Play
          </button>
          <Downloads clip={v} />
        </>
      )}
    </li>
  );
}

/** The caption styler of a clip: every style previewed side by side in the chosen aspect;
 * picking one re-renders the clip as a new version, listed with the others, each playable
 * and downloadable. */
export function Styler({ clipId }: { clipId: string }) {
  const [clip, setClip] = useState<Clip | null>(null);
  const [known, setKnown] = useState<CaptionStyles | null>(null);
  const [aspect, setAspect] = useState<string | null>(null);
  const [versions, setVersions] = useState<Clip[]>([]);
  const [playing, setPlaying] = useState<string | null>(null);
  const [video, setVideo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const canEdit = useCanEdit(); // a viewer sees the versions, not the re-render

  useEffect(() => {
    const stop = new AbortController();
    Promise.all([api.get<Clip>(`/api/clips/${clipId}`, stop.signal), api.get<CaptionStyles>("/api/caption-styles", stop.signal)])
      .then(([c, k]) => {
        setClip(c);
        setKnown(k);
        setAspect(c.aspect ?? k.aspects[0] ?? null);
        setPlaying(c.id);
      })
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, [clipId]);

  const loadVersions = useCallback(
    (signal?: AbortSignal) =>
      api
        .get<Clip[]>(`/api/clips/${clipId}/versions`, signal)
        .then(setVersions)
        .catch((err) => !signal?.aborted && setError(err)),
    [clipId],
  );
  useEffect(() => {
    const stop = new AbortController();
    void loadVersions(stop.signal);
    return () => stop.abort();
  }, [loadVersions]);

  // A version rendering: read the list again until none is pending.
  const rendering = versions.some((v) => v.status === "pending");
  useEffect(() => {
    if (!rendering) return;
    const stop = new AbortController();
    const timer = window.setInterval(() => void loadVersions(stop.signal), POLL_MS);
    return () => {
      stop.abort();
      window.clearInterval(timer);
    };
  }, [rendering, loadVersions]);

  const shown = versions.find((v) => v.id === playing);
  useEffect(() => {
    setVideo(null);
    if (!shown || shown.status !== "rendered") return;
    let live = true;
    fileUrl(shown.id, "video")
      .then((u) => live && setVideo(u))
      .catch((err) => live && setError(err));
    return () => {
      live = false;
    };
  }, [shown?.id, shown?.status]);

  /** Render a new version with `body`'s changes; whether the server took it. */
  async function rerender(body: Record<string, unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      const made = await api.post<Clip>(`/api/clips/${clipId}/rerender`, body);
      setPlaying(made.id);
      await loadVersions();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function pick(style: string) {
    if (aspect) await rerender({ captions: style, aspect });
  }

  if (!clip || !known || !aspect) {
    return (
      <main className="styler-page">
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {!error && <p className="muted">loading…</p>}
      </main>
    );
  }
  // The newest version with these settings is what "current" means for a style card.
  const latest = versions.length ? versions[versions.length - 1] : clip;
  return (
    <main className="styler-page">
      <div className="review-head">
        {clip.job_id ? <a href={href({ page: "clips", jobId: clip.job_id })}>← Clips</a> : <a href={href({ page: "jobs" })}>← Jobs</a>}
        <h1>{clip.title || "(untitled)"}</h1>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      <section className="card" aria-labelledby="styles-head">
        <div className="styles-head">
          <h2 id="styles-head">Caption style</h2>
          <label>
            Aspect{" "}
            <select aria-label="Aspect" value={aspect} onChange={(e) => setAspect(e.target.value)}>
              {known.aspects.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
        </div>
        <p className="muted">Each preview is a frame of the clip drawn by the renderer itself. Use one to render a new version.</p>
        <ul className="style-grid">
          {known.styles.map((s) => (
            <StyleCard
              key={s}
              clip={clip}
              style={s}
              aspect={aspect}
              current={latest.captions === s && latest.aspect === aspect}
              busy={busy}
              onPick={() => void pick(s)}
            />
          ))}
        </ul>
      </section>
      {canEdit && <RerenderEffects clip={clip} aspect={aspect} busy={busy} onRerender={rerender} />}
      <section className="card versions-card" aria-labelledby="versions-head">
        <h2 id="versions-head">Versions</h2>
        {video ? (
          <video key={video} src={video} controls playsInline preload="metadata" data-testid="version-player" />
        ) : (
          <div className="player-empty muted">{shown ? `v${shown.version} is ${shown.status}` : "pick a version"}</div>
        )}
        <ol className="versions">
          {versions.map((v) => (
            <VersionRow key={v.id} v={v} playing={v.id === playing} onPlay={() => setPlaying(v.id)} />
          ))}
        </ol>
      </section>
    </main>
  );
}
