import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { Clip } from "../api/types";

export function duration(clip: Clip): string {
  return `${(clip.end - clip.start).toFixed(1)} s`;
}

/** A presigned URL of one of a rendered clip's files (null until there is one). */
export function useFileUrl(clip: Clip, file: "video" | "thumbnail"): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    setUrl(null);
    if (clip.status !== "rendered") return;
    const stop = new AbortController();
    api
      .get<{ url: string }>(`/api/clips/${clip.id}/download-url?file=${file}`, stop.signal)
      .then((r) => setUrl(r.url))
      .catch(() => undefined); // a missing file shows as no picture, the card says why
    return () => stop.abort();
  }, [clip.id, clip.status, clip.version, file]);
  return url;
}

/** One clip in the review grid: thumbnail, score, title, duration, reasons, review state. */
export function ClipCard({ clip, selected, onSelect }: { clip: Clip; selected: boolean; onSelect: () => void }) {
  const thumb = useFileUrl(clip, "thumbnail");
  return (
    <li>
      <button
        type="button"
        className={`clip-card${selected ? " selected" : ""}`}
        data-clip-id={clip.id}
        data-review={clip.review}
        aria-pressed={selected}
        onClick={onSelect}
      >
        <div className="thumb">
          {thumb ? <img src={thumb} alt={`thumbnail of ${clip.title || "clip"}`} /> : <span className="muted">{clip.status}</span>}
          <span className="score" title="score">
            {clip.score.toFixed(2)}
          </span>
        </div>
        <div className="clip-meta">
          <strong className="clip-title">{clip.title || "(untitled)"}</strong>
          <span className="muted">
            {duration(clip)} · v{clip.version}
          </span>
          <span className={`badge review-${clip.review}`}>{clip.review.replace("_", " ")}</span>
          {clip.reasons.length > 0 && <span className="reasons">{clip.reasons.join(" · ")}</span>}
          {clip.error && <span className="step-error">{clip.error}</span>}
        </div>
      </button>
    </li>
  );
}
