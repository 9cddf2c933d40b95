import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import type { GeneratedClip, Page } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import "../search/pages.css";

const ORIGIN: Record<GeneratedClip["origin"]["type"], string> = { clip: "clip", reel: "highlight reel", stream: "stream" };

function expiry(g: GeneratedClip): string | null {
  if (g.expires_in_days === null) return null;
  const days = Math.max(0, Math.ceil(g.expires_in_days));
  return days === 0 ? "expires today" : `expires in ${days} day${days === 1 ? "" : "s"}`;
}

/** What clipray made in the workspace, until it expires: Keep stops the expiry. */
export function Generated({ workspaceId }: { workspaceId: string }) {
  const canEdit = useCanEdit();
  const [items, setItems] = useState<GeneratedClip[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setItems((await api.get<Page<GeneratedClip>>("/api/generated-clips?limit=50", signal)).data);
    } catch (err) {
      if (!signal?.aborted) setError(err);
    }
  }, []);

  useEffect(() => {
    const stop = new AbortController();
    setItems(null);
    void load(stop.signal);
    return () => stop.abort();
  }, [load, workspaceId]);

  async function keep(g: GeneratedClip) {
    setError(null);
    try {
      const kept = await api.post<GeneratedClip>(`/api/generated-clips/${g.id}/keep`);
      setItems((xs) => xs?.map((x) => (x.id === kept.id ? kept : x)) ?? null);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <main className="generated-page">
      <section className="card">
        <h2>Generated clips</h2>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {items === null && !error && <p className="muted">Loading…</p>}
        {items?.length === 0 && <p className="muted">Nothing generated yet: rendered clips and highlight reels appear here.</p>}
        <ul className="generated-list">
          {items?.map((g) => {
            const expires = expiry(g);
            return (
              <li key={g.id} className="generated" data-generated-id={g.id} data-status={g.status}>
                <span className="generated-title">
                  <strong>{g.title || "(untitled)"}</strong>
                  <span className="muted">
                    {g.duration_s.toFixed(1)} s · {(g.size_bytes / 1e6).toFixed(1)} MB
                  </span>
                </span>
                <span className="badge" data-testid="kind">
                  {g.kind}
                </span>
                <span className="muted" data-testid="origin">
                  from {ORIGIN[g.origin.type]} <code>{g.origin.id.slice(0, 8)}</code>
                </span>
                <span className={`badge status-${g.status}`}>{g.status}</span>
                {expires && (
                  <span className="expiry" data-testid="expiry">
                    {expires}
                  </span>
                )}
                {canEdit && g.status === "available" && (
                  <button type="button" onClick={() => void keep(g)}>
                    Keep
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      </section>
    </main>
  );
}
