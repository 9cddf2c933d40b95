import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../../api/client";
import * as edit from "../../api/edit";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import { href } from "../../router";
import { Timeline } from "./Timeline";
import { Transcript } from "./Transcript";
import "./edit.css";

/** 409s that mean someone else edited the cuts since this page loaded them. */
const CONFLICTS = ["CUT_VERSION_CONFLICT", "UNDO_STALE"];
const PROXY_POLL_MS = 2000;

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function describe(e: edit.Edit): string {
  if (e.op === "move") return `move ${e.frame} → ${e.to}`;
  if (e.op === "undo") return "undo";
  return `${e.op} ${e.frame}`;
}

/**
 * The cut editor of a source's virtual clips, on its all-intra proxy: every frame is a
 * keyframe, so stepping one frame (←/→, Shift for ten) shows exactly that frame. Each edit
 * sends the cut version it was made against; when someone else edited meanwhile the API
 * answers 409 and the page offers to reload. Ctrl+Z undoes your last edit on the server.
 */
export function CutEditor({ sourceId }: { sourceId: string }) {
  const canEdit = useCanEdit(); // a viewer steps and watches; the edits are not offered
  const video = useRef<HTMLVideoElement | null>(null);
  const [videoEl, setVideoEl] = useState<HTMLVideoElement | null>(null); // what effects follow
  const attach = useCallback((el: HTMLVideoElement | null) => {
    video.current = el;
    setVideoEl(el);
  }, []);
  const [source, setSource] = useState<edit.Source | null>(null);
  const [proxy, setProxy] = useState<edit.Proxy | null>(null);
  const [cuts, setCuts] = useState<edit.Cuts | null>(null);
  const [history, setHistory] = useState<edit.Edit[]>([]);
  const [transcript, setTranscript] = useState<edit.Transcript | null>(null);
  const [frame, setFrame] = useState(0);
  const [shown, setShown] = useState<number | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [conflict, setConflict] = useState<ApiError | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const fps = proxy ? edit.rateOf(proxy.frame_rate) : 0;
  const frameCount = cuts?.frame_count ?? proxy?.frame_count ?? 0;

  const reload = useCallback(async () => {
    const [c, h] = await Promise.all([edit.cuts(sourceId), edit.history(sourceId)]);
    setCuts(c);
    setHistory(h.data);
    setSelected((s) => (s !== null && c.cuts.includes(s) ? s : null));
    setConflict(null);
  }, [sourceId]);

  useEffect(() => {
    const stop = new AbortController();
    Promise.all([edit.source(sourceId, stop.signal), edit.cuts(sourceId, stop.signal), edit.history(sourceId, stop.signal)])
      .then(([s, c, h]) => {
        setSource(s);
        setCuts(c);
        setHistory(h.data);
      })
      .catch((err) => !stop.signal.aborted && setError(err));
    edit
      .sourceTranscript(sourceId, stop.signal)
      .then(setTranscript)
      .catch(() => undefined); // no transcript yet: the panel says so
    return () => stop.abort();
  }, [sourceId]);

  // The proxy: asking queues its build; ask again until it is ready.
  useEffect(() => {
    const stop = new AbortController();
    let timer = 0;
    const ask = () =>
      edit
        .proxy(sourceId, stop.signal)
        .then((p) => {
          setProxy(p);
          if (!p.url) timer = window.setTimeout(ask, PROXY_POLL_MS);
        })
        .catch((err) => !stop.signal.aborted && setError(err));
    ask();
    return () => {
      stop.abort();
      window.clearTimeout(timer);
    };
  }, [sourceId]);

  // The frame on screen follows the player: after each seek, and each animation frame while it plays.
  useEffect(() => {
    const v = videoEl;
    if (!v || !fps) return;
    let raf = 0;
    const at = () => Math.min(Math.max(frameCount - 1, 0), Math.floor(v.currentTime * fps + 1e-6));
    const onSeeked = () => {
      const f = at();
      setFrame(f);
      setShown(f);
    };
    const loop = () => {
      setFrame(at());
      if (!v.paused) raf = requestAnimationFrame(loop);
    };
    const onPlay = () => {
      setShown(null);
      raf = requestAnimationFrame(loop);
    };
    const onPause = () => {
      cancelAnimationFrame(raf);
      onSeeked();
    };
    v.addEventListener("seeked", onSeeked);
    v.addEventListener("play", onPlay);
    v.addEventListener("pause", onPause);
    v.addEventListener("loadeddata", onSeeked);
    return () => {
      cancelAnimationFrame(raf);
      v.removeEventListener("seeked", onSeeked);
      v.removeEventListener("play", onPlay);
      v.removeEventListener("pause", onPause);
      v.removeEventListener("loadeddata", onSeeked);
    };
  }, [fps, frameCount, videoEl]);

  const seek = useCallback(
    (f: number) => {
      const v = video.current;
      if (!v || !fps || !frameCount) return;
      const target = Math.min(Math.max(f, 0), frameCount - 1);
      v.pause();
      setFrame(target);
      setShown(null);
      // The middle of the frame's interval: no rounding at its edges can show a neighbour.
      v.currentTime = (target + 0.5) / fps;
    },
    [fps, frameCount],
  );

  const run = useCallback(
    async (op: (version: number) => Promise<edit.EditDone>) => {
      if (!cuts || busy) return;
      setError(null);
      setBusy(true);
      try {
        await op(cuts.version);
        await reload();
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && CONFLICTS.includes(err.code)) setConflict(err);
        else setError(err);
      } finally {
        setBusy(false);
      }
    },
    [cuts, busy, reload],
  );

  const addCut = useCallback(() => run((v) => edit.addCut(sourceId, frame, v)), [run, sourceId, frame]);
  const removeCut = useCallback((c: number) => run((v) => edit.removeCut(sourceId, c, v)), [run, sourceId]);
  const moveCut = useCallback((c: number) => run((v) => edit.moveCut(sourceId, c, frame, v)), [run, sourceId, frame]);
  const undo = useCallback(() => run((v) => edit.undoCut(sourceId, v)), [run, sourceId]);

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (typing(e.target) || e.altKey) return;
      if (canEdit && (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
        e.preventDefault();
        void undo();
        return;
      }
      if (e.ctrlKey || e.metaKey) return;
      const step = e.shiftKey ? 10 : 1;
      const keys: Record<string, () => void> = {
        ArrowRight: () => seek(frame + step),
        ArrowLeft: () => seek(frame - step),
        Home: () => seek(0),
        End: () => seek(frameCount - 1),
        ...(canEdit ? {
          c: () => void addCut(),
          m: () => selected !== null && void moveCut(selected),
          Delete: () => selected !== null && void removeCut(selected),
        } : {}),
        p: () => {
          const v = video.current;
          if (v) void (v.paused ? v.play().catch(() => undefined) : v.pause());
        },
      };
      const action = keys[e.key];
      if (!action) return;
      e.preventDefault();
      action();
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [seek, frame, frameCount, addCut, moveCut, removeCut, undo, selected, canEdit]);

  const seconds = fps ? frame / fps : 0;
  return (
    <main className="edit-page">
      <div className="review-head">
        <a href={href({ page: "sources" })}>← Sources</a>
        <h1>Cut editor</h1>
        {source && <span className="muted">{source.origin_uri.split("/").pop()}</span>}
      </div>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {conflict && (
        <div className="error" role="alert" data-testid="conflict">
          <code className="error-code">{conflict.code}</code> <span className="error-message">Someone else changed these cuts: {conflict.message}</span>{" "}
          <button type="button" className="primary" onClick={() => void reload().catch(setError)}>
            Reload
          </button>
        </div>
      )}
      <div className="editor">
        <section className="editor-player card" aria-label="player">
          {proxy?.url ? (
            <video
              ref={attach}
              src={proxy.url}
              preload="auto"
              muted
              playsInline
              data-testid="editor-video"
              style={source?.width && source.height ? { aspectRatio: `${source.width} / ${source.height}` } : undefined}
              data-frame={shown ?? undefined}
            />
          ) : (
            <p className="player-empty muted" role="status">
              Preparing the frame-exact proxy… ({proxy?.status ?? "asking"})
            </p>
          )}
          <div className="frame-bar">
            <button type="button" onClick={() => seek(frame - 10)} aria-label="back ten frames">
              «
            </button>
            <button type="button" onClick={() => seek(frame - 1)} aria-label="previous frame">
              ‹
            </button>
            <span className="frame-no" data-testid="frame-no" aria-live="polite">
              frame {frame}
            </span>
            <span className="muted">/ {Math.max(frameCount - 1, 0)}</span>
            <button type="button" onClick={() => seek(frame + 1)} aria-label="next frame">
              ›
            </button>
            <button type="button" onClick={() => seek(frame + 10)} aria-label="forward ten frames">
              »
            </button>
            <span className="muted">{seconds.toFixed(3)} s</span>
            {canEdit && (
              <button type="button" onClick={() => void addCut()} disabled={!cuts || busy || frame === 0}>
                Add cut here
              </button>
            )}
            {canEdit && (
              <button type="button" onClick={() => void undo()} disabled={!cuts || busy}>
                Undo
              </button>
            )}
          </div>
          {cuts && (
            <Timeline
              frameCount={cuts.frame_count}
              cuts={cuts.cuts}
              frame={frame}
              selected={selected}
              onSeek={seek}
              onSelect={(c) => {
                setSelected(c);
                seek(c);
              }}
            />
          )}
          <p className="keys">
            <kbd>←</kbd>/<kbd>→</kbd> one frame, with <kbd>Shift</kbd> ten; <kbd>C</kbd> cut here; <kbd>M</kbd> move the selected cut here;{" "}
            <kbd>Delete</kbd> remove it; <kbd>Ctrl</kbd>+<kbd>Z</kbd> undo; <kbd>P</kbd> play/pause.
          </p>
          <h2>Transcript</h2>
          {transcript ? <Transcript data={transcript} player={videoEl} /> : <p className="muted">No transcript yet.</p>}
        </section>
        <aside className="editor-side">
          <section className="card" aria-label="cuts">
            <h2>Cuts {cuts && <span className="muted">(version {cuts.version})</span>}</h2>
            <ul className="cut-list" data-testid="cut-list">
              {cuts?.cuts.map((c) => (
                <li key={c} data-cut={c}>
                  <button type="button" className="link" aria-pressed={c === selected} onClick={() => (setSelected(c), seek(c))}>
                    frame {c}
                  </button>
                  {canEdit && (
                    <button type="button" onClick={() => void moveCut(c)} disabled={busy || c === frame}>
                      Move here
                    </button>
                  )}
                  {canEdit && (
                    <button type="button" onClick={() => void removeCut(c)} disabled={busy} aria-label={`remove cut at frame ${c}`}>
                      Remove
                    </button>
                  )}
                </li>
              ))}
              {cuts && !cuts.cuts.length && <li className="muted">No cuts: one clip.</li>}
            </ul>
          </section>
          <section className="card" aria-label="history">
            <h2>History</h2>
            <ol className="history" data-testid="history">
              {history.map((e) => (
                <li key={e.id} data-op={e.op} data-undone={e.undone}>
                  {describe(e)} <span className="muted">v{e.version} · {new Date(e.created_at).toLocaleTimeString()}</span>
                </li>
              ))}
              {!history.length && <li className="muted">No edits yet.</li>}
            </ol>
          </section>
        </aside>
      </div>
    </main>
  );
}
