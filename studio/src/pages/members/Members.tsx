import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { ROLES, type Member } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { useIsAdmin } from "../../role";
import "../search/pages.css";

/** The workspace's members and their roles; admins and owners add, change and remove them
 * (the server refuses what a role may not do, e.g. an admin making an owner). */
export function Members({ workspaceId, myId }: { workspaceId: string; myId: string }) {
  const admin = useIsAdmin();
  const [members, setMembers] = useState<Member[] | null>(null);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("editor");
  const [error, setError] = useState<unknown>(null);
  const base = `/api/workspaces/${encodeURIComponent(workspaceId)}/members`;

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setMembers(await api.get<Member[]>(base, signal));
      } catch (err) {
        if (!signal?.aborted) setError(err);
      }
    },
    [base],
  );

  useEffect(() => {
    const stop = new AbortController();
    setMembers(null);
    void load(stop.signal);
    return () => stop.abort();
  }, [load]);

  async function act(call: () => Promise<unknown>) {
    setError(null);
    try {
      await call();
      await load();
    } catch (err) {
      setError(err);
    }
  }

  function add(e: FormEvent) {
    e.preventDefault();
    void act(async () => {
      await api.post<Member>(base, { email, role });
      setEmail("");
    });
  }

  return (
    <main className="members-page">
      <section className="card">
        <h2>Members</h2>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {members === null && !error && <p className="muted">Loading…</p>}
        <ul className="member-list">
          {members?.map((m) => (
            <li key={m.user_id} className="member" data-user-id={m.user_id}>
              <span className="member-email">
                {m.email}
                {m.user_id === myId && <span className="muted"> (you)</span>}
              </span>
              {admin ? (
                <>
                  <select
                    aria-label={`role of ${m.email}`}
                    value={m.role}
                    onChange={(e) => void act(() => api.patch(`${base}/${m.user_id}`, { role: e.target.value }))}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                  <button type="button" aria-label={`remove ${m.email}`} onClick={() => void act(() => api.delete(`${base}/${m.user_id}`))}>
                    Remove
                  </button>
                </>
              ) : (
                <span className="badge">{m.role}</span>
              )}
            </li>
          ))}
        </ul>
        {admin && (
          <form className="member-add" onSubmit={add}>
            <label className="grow">
              Email of a registered user
              <input name="member-email" type="email" required value={email} maxLength={320} onChange={(e) => setEmail(e.target.value)} />
            </label>
            <label>
              Role
              <select name="member-role" value={role} onChange={(e) => setRole(e.target.value)}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" className="primary">
              Add member
            </button>
          </form>
        )}
      </section>
    </main>
  );
}
