import { useEffect, useState } from "react";
import { api } from "../api/client";
import { follow } from "../api/events";
import { ACTIVE_JOB_STATES, type Job, type JobStatusEvent, type Step } from "../api/types";
import { useCanEdit } from "../role";
import { href } from "../router";
import { ErrorBox } from "./ErrorBox";

/** What the job was made from: its URL, its bucket key, or the upload (by its source id). */
function sourceName(job: Job): string {
  const { kind, value = "" } = job.source;
  const when = new Date(job.created_at).toLocaleString();
  return kind === "id" ? `upload ${value.slice(0, 8)} · ${when}` : `${value} · ${when}`;
}

/** One job: its state and progress, followed live over the job's event stream while it runs. */
export function JobRow({ initial, live }: { initial: Job; live: boolean }) {
  const [job, setJob] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  const active = ACTIVE_JOB_STATES.includes(job.status);
  const canEdit = useCanEdit();

  // The list's rows carry no steps: keep the ones the stream brought.
  useEffect(() => setJob((j) => ({ ...initial, steps: initial.steps.length ? initial.steps : j.steps })), [initial]);

  useEffect(() => {
    if (!live || !active) return;
    const stop = new AbortController();
    const run = async () => {
      try {
        await follow(
          api,
          `/api/jobs/${job.id}/events`,
          (e) => {
            if (e.event === "status") setJob((j) => ({ ...j, ...(e.data as JobStatusEvent) }));
            else if (e.event === "step") {
              const st = e.data as Step;
              setJob((j) => ({ ...j, steps: [...j.steps.filter((s) => !(s.name === st.name && s.attempt === st.attempt)), st] }));
            }
          },
          stop.signal,
        );
        setJob(await api.get<Job>(`/api/jobs/${job.id}`));
      } catch (err) {
        if (!stop.signal.aborted) setError(err);
      }
    };
    void run();
    return () => stop.abort();
  }, [job.id, live, active]);

  async function control(action: "cancel" | "retry") {
    setError(null);
    try {
      const path = `/api/jobs/${job.id}`;
      setJob(action === "cancel" ? await api.delete<Job>(path) : await api.post<Job>(`${path}/retry`));
    } catch (err) {
      setError(err);
    }
  }

  const pct = Math.round(job.progress * 100);
  return (
    <li className="job" data-job-id={job.id} data-status={job.status}>
      <div className="job-head">
        <span className={`badge status-${job.status}`} data-testid="job-status">
          {job.status}
          {job.paused ? " (paused)" : ""}
        </span>
        <span className="job-source" title={sourceName(job)}>
          {sourceName(job)}
        </span>
        <span className="job-actions">
          {canEdit && active && (
            <button type="button" onClick={() => control("cancel")}>
              Cancel
            </button>
          )}
          {canEdit && job.status === "failed" && (
            <button type="button" onClick={() => control("retry")}>
              Retry
            </button>
          )}
          {(job.status === "review" || job.status === "completed") && (
            <a className="button primary" href={href({ page: "clips", jobId: job.id })}>
              Review clips
            </a>
          )}
        </span>
      </div>
      <div className="progress" role="progressbar" aria-label="job progress" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100}>
        <div style={{ width: `${pct}%` }} />
        <span>{pct}%</span>
      </div>
      {job.steps.length > 0 && (
        <ol className="steps">
          {job.steps.map((s) => (
            <li key={`${s.name}-${s.attempt}`} className={`step status-${s.status}`}>
              {s.name}
              {s.attempt > 1 ? ` #${s.attempt}` : ""}: {s.status}
              {s.error && <span className="step-error"> — {s.error}</span>}
            </li>
          ))}
        </ol>
      )}
      {job.error && (
        <p className="job-error" role="alert">
          {job.error}
        </p>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </li>
  );
}
