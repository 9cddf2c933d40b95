import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";
import { ACTIVE_JOB_STATES, type Job, type Page } from "../api/types";
import { ErrorBox } from "../components/ErrorBox";
import { JobRow } from "../components/JobRow";
import { NewJob } from "../components/NewJob";
import { useCanEdit } from "../role";

// Browsers open about six connections per host: a few job streams leave room for the rest;
// the other running jobs are refreshed with the list.
const LIVE_STREAMS = 3;
const REFRESH_MS = 10_000;

/** The workspace's jobs, newest first, with a form for a new one. */
export function Jobs({ workspaceId }: { workspaceId: string | null }) {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canEdit = useCanEdit();

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      const page = await api.get<Page<Job>>("/api/jobs?limit=20", signal);
      setJobs(page.data);
      setError(null);
    } catch (err) {
      if (!signal?.aborted) setError(err);
    }
  }, []);

  useEffect(() => {
    const stop = new AbortController();
    setJobs(null);
    void load(stop.signal);
    const timer = window.setInterval(() => void load(stop.signal), REFRESH_MS);
    return () => {
      stop.abort();
      window.clearInterval(timer);
    };
  }, [load, workspaceId]);

  let streams = 0;
  return (
    <main className="jobs-page">
      {canEdit && <NewJob onCreated={() => void load()} />}
      <section className="card">
        <h2>Jobs</h2>
        <ErrorBox error={error} />
        {jobs === null && !error && <p className="muted">Loading…</p>}
        {jobs?.length === 0 && <p className="muted">No jobs yet: start one above.</p>}
        <ul className="job-list">
          {jobs?.map((j) => {
            const live = ACTIVE_JOB_STATES.includes(j.status) && streams++ < LIVE_STREAMS;
            return <JobRow key={j.id} initial={j} live={live} />;
          })}
        </ul>
      </section>
    </main>
  );
}
