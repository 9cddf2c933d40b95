// A rendered clip's files as the API serves them: presigned URLs (an <img> or <a> cannot send
// the bearer token) and the caption preview's PNG, fetched with the token as a blob URL.

import { useEffect, useState } from "react";
import { api } from "../../api/client";
import type { Clip } from "../../api/types";

/** What GET /api/clips/{id}/download-url serves, with the label a button shows. */
export const CLIP_FILES = [
  { file: "video", label: "MP4" },
  { file: "thumbnail", label: "Thumbnail" },
  { file: "fcpxml", label: "FCPXML" },
  { file: "edl", label: "EDL" },
] as const;
export type ClipFile = (typeof CLIP_FILES)[number]["file"];

/** The styles and aspects the render code knows (GET /api/caption-styles). */
export interface CaptionStyles {
  styles: string[];
  aspects: string[];
}

/** How many titled thumbnail candidates a clip has (the server's THUMBNAIL_CANDIDATES). */
export const THUMBNAIL_CANDIDATES = 3;

/** The API path that answers a presigned URL of one of the clip's files; `n` picks one of
 * the thumbnail candidates (0, the best, to THUMBNAIL_CANDIDATES - 1). */
export function downloadUrlPath(clipId: string, file: ClipFile, n?: number): string {
  const which = file === "thumbnail" && n !== undefined ? `&n=${n}` : "";
  return `/api/clips/${encodeURIComponent(clipId)}/download-url?file=${file}${which}`;
}

export async function fileUrl(clipId: string, file: ClipFile, n?: number, signal?: AbortSignal): Promise<string> {
  const r = await api.get<{ url: string }>(downloadUrlPath(clipId, file, n), signal);
  return r.url;
}

/** Download one of the clip's files: a fresh presigned URL per click (an earlier one may
 * have expired), followed by a temporary link the browser saves from. */
export async function downloadFile(clipId: string, file: ClipFile, n?: number): Promise<void> {
  const a = document.createElement("a");
  a.href = await fileUrl(clipId, file, n);
  a.download = "";
  document.body.append(a);
  a.click();
  a.remove();
}

/** An object URL of the clip's caption preview in `style` and `aspect` (null while it
 * renders); the error, when the server refused. Revoked when the arguments change. */
export function usePreview(clip: Clip, style: string, aspect: string): { url: string | null; error: unknown } {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setUrl(null);
    setError(null);
    const stop = new AbortController();
    let made: string | null = null;
    const query = `style=${encodeURIComponent(style)}&aspect=${encodeURIComponent(aspect)}`;
    api
      .send("GET", `/api/clips/${clip.id}/caption-preview?${query}`, { signal: stop.signal })
      .then((resp) => resp.blob())
      .then((blob) => {
        if (stop.signal.aborted) return;
        made = URL.createObjectURL(blob);
        setUrl(made);
      })
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => {
      stop.abort();
      if (made) URL.revokeObjectURL(made);
    };
  }, [clip.id, style, aspect]);
  return { url, error };
}
