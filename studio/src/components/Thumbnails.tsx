import { useEffect, useState } from "react";
import { ApiError } from "../api/client";
import type { Clip } from "../api/types";
import { THUMBNAIL_CANDIDATES, downloadFile, fileUrl } from "../pages/style/files";
import { ErrorBox } from "./ErrorBox";
import "./effects.css";

/** One candidate's state: its URL, missing (the clip was rendered before there were
 * candidates), or the server's refusal. */
type Candidate = { n: number; url: string | null; missing: boolean; error: unknown };

/** A clip rendered before it had this candidate answers 404 THUMBNAIL_NOT_FOUND (and one
 * with no thumbnail at all 409 CLIP_NOT_READY): nothing to show, not an error. */
function missing(err: unknown): boolean {
  return err instanceof ApiError && (err.code === "THUMBNAIL_NOT_FOUND" || err.code === "CLIP_NOT_READY");
}

/** The clip's titled thumbnail candidates side by side, one shown large on click, each with
 * its download. A clip with none shows nothing. */
export function Thumbnails({ clip }: { clip: Clip }) {
  const [items, setItems] = useState<Candidate[]>([]);
  const [large, setLarge] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setItems([]);
    setLarge(null);
    setError(null);
    if (clip.status !== "rendered") return;
    const stop = new AbortController();
    const all = Array.from({ length: THUMBNAIL_CANDIDATES }, (_, n) =>
      fileUrl(clip.id, "thumbnail", n, stop.signal).then(
        (url): Candidate => ({ n, url, missing: false, error: null }),
        (err): Candidate => ({ n, url: null, missing: missing(err), error: missing(err) ? null : err }),
      ),
    );
    void Promise.all(all).then((got) => !stop.signal.aborted && setItems(got));
    return () => stop.abort();
  }, [clip.id, clip.status, clip.version]);

  async function download(n: number) {
    setError(null);
    try {
      await downloadFile(clip.id, "thumbnail", n);
    } catch (err) {
      setError(err);
    }
  }

  const shown = items.filter((c) => !c.missing);
  if (!shown.length) return null;
  const big = shown.find((c) => c.n === large && c.url);
  return (
    <section className="thumbnails" aria-label="thumbnail candidates">
      <ul className="thumb-candidates">
        {shown.map((c) => (
          <li key={c.n} className="thumb-candidate" data-n={c.n}>
            {c.url ? (
              <button type="button" className="thumb-pick" aria-pressed={large === c.n} onClick={() => setLarge(large === c.n ? null : c.n)}>
                <img src={c.url} alt={`thumbnail candidate ${c.n + 1}`} loading="lazy" data-testid="thumb-candidate" />
              </button>
            ) : (
              <ErrorBox error={c.error} />
            )}
            {c.url && (
              <button type="button" className="thumb-download" onClick={() => void download(c.n)}>
                Download {c.n + 1}
              </button>
            )}
          </li>
        ))}
      </ul>
      {big?.url && (
        <figure className="thumb-large">
          <button type="button" className="thumb-pick" onClick={() => setLarge(null)} aria-label="close the large thumbnail">
            <img src={big.url} alt={`thumbnail candidate ${big.n + 1}, large`} data-testid="thumb-large" />
          </button>
        </figure>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </section>
  );
}
