import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";
import { REVIEW_STATES, type Clip, type Job, type Page, type Review as ReviewState } from "../api/types";
import { ClipCard } from "../components/ClipCard";
import { ClipPanel } from "../components/ClipPanel";
import { ErrorBox } from "../components/ErrorBox";
import { useCanEdit } from "../role";
import { href } from "../router";

/** Keys of the review, read anywhere on the page but in a text field. */
const KEYS: Record<string, "approve" | "skip" | "next" | "previous"> = { a: "approve", s: "skip", j: "next", k: "previous" };

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

/** A job's clips, best first: a grid to pick from, the picked clip's player and review. */
export function Review({ jobId }: { jobId: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [clips, setClips] = useState<Clip[] | null>(null);
  const [filter, setFilter] = useState<ReviewState | "">("");
  const [index, setIndex] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const canEdit = useCanEdit();

  useEffect(() => {
    const stop = new AbortController();
    const query = `/api/clips?job_id=${encodeURIComponent(jobId)}&limit=100${filter ? `&review=${filter}` : ""}`;
    Promise.all([api.get<Job>(`/api/jobs/${jobId}`, stop.signal), api.get<Page<Clip>>(query, stop.signal)])
      .then(([j, page]) => {
        setJob(j);
        setClips(page.data);
        setIndex(0);
      })
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, [jobId, filter]);

  const replace = useCallback((c: Clip) => setClips((cs) => cs?.map((x) => (x.id === c.id ? c : x)) ?? null), []);

  const review = useCallback(
    async (clip: Clip, state: ReviewState) => {
      setError(null);
      try {
        replace(await api.patch<Clip>(`/api/clips/${clip.id}`, { review: state }));
      } catch (err) {
        setError(err);
      }
    },
    [replace],
  );

  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || !clips?.length) return;
      const action = KEYS[e.key.toLowerCase()];
      if (!action) return;
      e.preventDefault();
      const clip = clips[index];
      if (action === "next") setIndex((i) => Math.min(i + 1, clips.length - 1));
      else if (action === "previous") setIndex((i) => Math.max(i - 1, 0));
      else if (clip && canEdit) void review(clip, action === "approve" ? "approved" : "skipped");
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [clips, index, review, canEdit]);

  const selected = clips?.[index];
  return (
    <main className="review-page">
      <div className="review-head">
        <a href={href({ page: "jobs" })}>← Jobs</a>
        <h2>
          Clips of job <code>{jobId.slice(0, 8)}</code>
          {job && <span className={`badge status-${job.status}`}>{job.status}</span>}
        </h2>
        <label>
          Show
          <select value={filter} onChange={(e) => setFilter(e.target.value as ReviewState | "")}>
            <option value="">all</option>
            {REVIEW_STATES.map((r) => (
              <option key={r} value={r}>
                {r.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <span className="muted keys">
          {canEdit && <><kbd>A</kbd> approve · <kbd>S</kbd> skip · </>}<kbd>J</kbd>/<kbd>K</kbd> next/previous
        </span>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {clips === null && !error && <p className="muted">Loading…</p>}
      {clips?.length === 0 && <p className="muted">No clips here.</p>}
      <div className="review-body">
        {selected && <ClipPanel clip={selected} onChange={replace} onReview={(r) => void review(selected, r)} />}
        <ul className="clip-grid">
          {clips?.map((c, i) => <ClipCard key={c.id} clip={c} selected={i === index} onSelect={() => setIndex(i)} />)}
        </ul>
      </div>
    </main>
  );
}
