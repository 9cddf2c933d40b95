import { useEffect, useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Clip, Review } from "../api/types";
import { duration, useFileUrl } from "./ClipCard";
import { useCanEdit } from "../role";
import { ErrorBox } from "./ErrorBox";
import { StyleLinks } from "../pages/style/StyleLinks";
import { Thumbnails } from "./Thumbnails";

/** The selected clip: its player, review actions, title and description, downloads and
 * thumbnail candidates. */
export function ClipPanel({ clip, onChange, onReview }: { clip: Clip; onChange: (c: Clip) => void; onReview: (r: Review) => void }) {
  const video = useFileUrl(clip, "video");
  const [title, setTitle] = useState(clip.title);
  const [description, setDescription] = useState(clip.description);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const canEdit = useCanEdit();

  useEffect(() => {
    setSaved(false);
    setError(null);
  }, [clip.id]);
  useEffect(() => {
    setTitle(clip.title);
    setDescription(clip.description);
  }, [clip.id, clip.title, clip.description]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      onChange(await api.patch<Clip>(`/api/clips/${clip.id}`, { title, description }));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className="card clip-panel" aria-label="selected clip" data-clip-id={clip.id}>
      {video ? (
        // The clip's own captions are burnt in; there is no separate track to offer.
        <video key={video} src={video} controls playsInline preload="metadata" data-testid="player" />
      ) : (
        <div className="player-empty muted">{clip.status === "rendered" ? "loading…" : `the clip is ${clip.status}`}</div>
      )}
      <div className="review-actions" role="group" aria-label="review">
        {canEdit && (
          <>
            <button type="button" className={clip.review === "approved" ? "primary" : ""} onClick={() => onReview("approved")} title="A">
              Approve <kbd>A</kbd>
            </button>
            <button type="button" className={clip.review === "skipped" ? "primary" : ""} onClick={() => onReview("skipped")} title="S">
              Skip <kbd>S</kbd>
            </button>
            <button type="button" className={clip.review === "archived" ? "primary" : ""} onClick={() => onReview("archived")}>
              Archive
            </button>
          </>
        )}
        {video && (
          <a className="button" href={video} download data-testid="download">
            Download MP4
          </a>
        )}
      </div>
      <StyleLinks clip={clip} />
      <Thumbnails clip={clip} />
      <p className="muted">
        {duration(clip)} from {clip.start.toFixed(1)} s · score {clip.score.toFixed(2)} · <span data-testid="review-state">{clip.review}</span>
      </p>
      {canEdit && (
        <form onSubmit={save} className="clip-edit">
          <label>
            Title
            <input name="title" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} />
          </label>
          <label>
            Description
            <textarea name="description" rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
          </label>
          <button type="submit">Save</button>
          {saved && (
            <span className="muted" role="status">
              saved
            </span>
          )}
        </form>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </section>
  );
}
