import { type FormEvent, useEffect, useState } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import type { ConnectedAccount, Publishable, Publication } from "./types";

interface Listed {
  id: string;
  title: string | null;
}

/** Publish a clip now or at a time, to one or more connected accounts. An editor's
 * publication is a request that an admin approves. */
export function PublishForm({
  accounts,
  isAdmin,
  onPublished,
}: {
  accounts: ConnectedAccount[];
  isAdmin: boolean;
  onPublished: (made: Publication[]) => void;
}) {
  const [clips, setClips] = useState<Publishable[] | null>(null);
  const [clipId, setClipId] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [hashtags, setHashtags] = useState("");
  const [at, setAt] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const stop = new AbortController();
    Promise.all([
      api.get<Page<Listed>>("/api/clips?status=rendered&limit=50", stop.signal),
      api.get<Page<Listed>>("/api/generated-clips?limit=50", stop.signal),
    ])
      .then(([rendered, generated]) => {
        const all: Publishable[] = [
          ...rendered.data.map((c) => ({ id: c.id, title: c.title, kind: "clip" as const })),
          ...generated.data.map((c) => ({ id: c.id, title: c.title, kind: "generated" as const })),
        ];
        setClips(all);
        setClipId((id) => id || all[0]?.id || "");
      })
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, []);

  const active = accounts.filter((a) => a.status === "active");
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body: Record<string, unknown> = {
        clip_ids: [clipId],
        account_ids: chosen,
        metadata: {
          title: title.trim(),
          description: description.trim(),
          hashtags: hashtags.split(/[\s,]+/).filter(Boolean),
        },
      };
      let path = "/api/publish";
      if (at) {
        body.scheduled_at = new Date(at).toISOString();
        path = "/api/publish/schedule";
      }
      const made = await api.post<{ data: Publication[] }>(path, body);
      onPublished(made.data);
      setTitle("");
      setDescription("");
      setHashtags("");
      setAt("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="publish-heading">
      <h2 id="publish-heading">Publish a clip</h2>
      {!isAdmin && <p className="muted">As an editor, your publication waits for an admin's approval.</p>}
      <form className="new-job" onSubmit={(e) => void submit(e)}>
        <label>
          Clip
          <select value={clipId} onChange={(e) => setClipId(e.target.value)} required>
            {clips === null && <option value="">Loading…</option>}
            {clips?.length === 0 && <option value="">No rendered or generated clips</option>}
            {clips?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.title || c.id} ({c.kind === "clip" ? "rendered" : "generated"})
              </option>
            ))}
          </select>
        </label>
        <fieldset className="account-picks">
          <legend>Accounts</legend>
          {active.length === 0 && <span className="muted">Connect an account first.</span>}
          {active.map((a) => (
            <label key={a.id} className="inline">
              <input
                type="checkbox"
                checked={chosen.includes(a.id)}
                onChange={(e) => setChosen((ids) => (e.target.checked ? [...ids, a.id] : ids.filter((i) => i !== a.id)))}
              />
              {a.platform}: {a.name || a.platform_account_id}
            </label>
          ))}
        </fieldset>
        <label>
          Title
          <input value={title} maxLength={100} onChange={(e) => setTitle(e.target.value)} placeholder="the clip's own title" />
        </label>
        <label>
          Description
          <textarea value={description} rows={2} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label>
          Hashtags
          <input value={hashtags} onChange={(e) => setHashtags(e.target.value)} placeholder="#launch #ai" />
        </label>
        <label>
          Schedule for (empty: now)
          <input type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy || !clipId || chosen.length === 0}>
          {at ? "Schedule" : isAdmin ? "Publish" : "Request publication"}
        </button>
      </form>
    </section>
  );
}
