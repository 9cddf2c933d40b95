import { useState } from "react";
import { api } from "../../api/client";
import { ErrorBox } from "../../components/ErrorBox";
import { type Publication, when } from "./types";

const CANCELLABLE = ["requested", "pending", "scheduled"];

/** Publications with their status; editors' requests with approve and reject for admins. */
export function Publications({
  publications,
  isAdmin,
  onChange,
}: {
  publications: Publication[] | null;
  isAdmin: boolean;
  onChange: () => void;
}) {
  const [error, setError] = useState<unknown>(null);
  const act = async (p: Publication, action: "approve" | "reject" | "cancel") => {
    try {
      const path = `/api/publish/${encodeURIComponent(p.id)}`;
      if (action === "cancel") await api.delete(path);
      else await api.post(`${path}/${action}`);
      onChange();
    } catch (err) {
      setError(err);
    }
  };
  const requests = publications?.filter((p) => p.status === "requested") ?? [];
  const rest = publications?.filter((p) => p.status !== "requested") ?? [];

  const row = (p: Publication) => (
    <li key={p.id} className="publication" data-publication-id={p.id}>
      <div className="monitor-head">
        <span className="badge">{p.platform}</span>
        <strong className="monitor-url">{p.metadata.title || p.clip_id}</strong>
        <span className={`badge status-${p.status}`} data-testid="publication-status">
          {p.status}
        </span>
      </div>
      <span className="muted">
        {p.published_at ? `published ${when(p.published_at)}` : p.scheduled_at ? `due ${when(p.scheduled_at)}` : `created ${when(p.created_at)}`}
        {p.url && (
          <>
            {" · "}
            <a href={p.url} target="_blank" rel="noreferrer">
              view post
            </a>
          </>
        )}
      </span>
      {p.error && (
        <p className="job-error">
          <code>{p.error.code}</code> {p.error.message}
        </p>
      )}
      <div className="job-actions">
        {p.status === "requested" && isAdmin && (
          <>
            <button type="button" className="primary" onClick={() => void act(p, "approve")}>
              Approve
            </button>
            <button type="button" onClick={() => void act(p, "reject")}>
              Reject
            </button>
          </>
        )}
        {CANCELLABLE.includes(p.status) && (
          <button type="button" onClick={() => void act(p, "cancel")}>
            Cancel
          </button>
        )}
      </div>
    </li>
  );

  return (
    <>
      <section className="card" aria-labelledby="requests-heading">
        <h2 id="requests-heading">Requests awaiting approval</h2>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {publications !== null && requests.length === 0 && <p className="muted">No requests waiting.</p>}
        <ul className="monitor-list" aria-label="requests">
          {requests.map(row)}
        </ul>
      </section>
      <section className="card" aria-labelledby="publications-heading">
        <h2 id="publications-heading">Publications</h2>
        {publications === null && <p className="muted">Loading…</p>}
        {publications?.length === 0 && <p className="muted">Nothing published yet.</p>}
        <ul className="monitor-list" aria-label="publications">
          {rest.map(row)}
        </ul>
      </section>
    </>
  );
}
