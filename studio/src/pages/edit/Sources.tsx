import { useEffect, useState } from "react";
import * as edit from "../../api/edit";
import { ErrorBox } from "../../components/ErrorBox";
import { href } from "../../router";

/** The workspace's videos; those with frames (analysed, not sound only) open in the cut editor. */
export function Sources() {
  const [rows, setRows] = useState<edit.Source[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const stop = new AbortController();
    edit
      .sources(stop.signal)
      .then((p) => setRows(p.data))
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, []);

  return (
    <main>
      <h1>Sources</h1>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {rows && !rows.length && <p className="muted">No videos yet: start a job on the Jobs page.</p>}
      <ul className="source-list card">
        {rows?.map((s) => (
          <li key={s.id} data-source-id={s.id}>
            <span>{s.origin_uri.split("/").pop()}</span>
            <span className="muted">
              {s.duration_s.toFixed(1)} s{s.frame_count ? ` · ${s.frame_count} frames` : ""}
            </span>
            {s.frame_count ? (
              <a className="button" href={href({ page: "edit", sourceId: s.id })}>
                Edit cuts
              </a>
            ) : (
              <span className="muted">{s.audio_only ? "sound only" : "analysis pending"}</span>
            )}
          </li>
        ))}
      </ul>
    </main>
  );
}
