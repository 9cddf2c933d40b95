import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import {
  KIND_LABELS,
  LIBRARY_KINDS,
  TAG_MAX_LEN,
  TAGS_MAX,
  addItem,
  formatDuration,
  listLibrary,
  parseTags,
  removeItem,
  retagItem,
  type LibraryItem,
  type LibraryKind,
} from "../../api/library";
import { listSources, sourceLabel, videoSources, type PickSource } from "../../api/sources";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import "./library.css";

const TAGS_HINT = `1 to ${TAGS_MAX} words of up to ${TAG_MAX_LEN} letters, matched against what a clip says`;

/** One item: what it is, its tags (editors retag it inline) and remove. */
function ItemRow({ item, onSaved, onRemoved }: { item: LibraryItem; onSaved: (i: LibraryItem) => void; onRemoved: () => void }) {
  const canEdit = useCanEdit();
  const [tags, setTags] = useState(item.tags.join(", "));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setTags(item.tags.join(", ")), [item]);
  const changed = parseTags(tags).join(",") !== item.tags.join(",");

  async function act(call: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await call();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const save = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => onSaved(await retagItem(api, item.id, parseTags(tags))));
  };
  const remove = () => {
    if (!window.confirm(`Take "${item.title}" out of the library? Its source stays.`)) return;
    void act(async () => {
      await removeItem(api, item.id);
      onRemoved();
    });
  };

  return (
    <li className="card library-item" data-item-id={item.id} data-kind={item.kind}>
      <div className="library-head">
        <span className="library-kind">{KIND_LABELS[item.kind]}</span>
        <strong className="library-title">{item.title}</strong>
        <span className="muted">{formatDuration(item.duration_s)}</span>
      </div>
      {canEdit ? (
        <form className="library-tags" onSubmit={save} aria-label={`retag ${item.title}`}>
          <label className="grow">
            Tags
            <input name="tags" value={tags} required disabled={busy} onChange={(e) => setTags(e.target.value)} />
          </label>
          <button type="submit" disabled={busy || !changed}>
            Save tags
          </button>
          <button type="button" disabled={busy} onClick={remove}>
            Remove
          </button>
        </form>
      ) : (
        <ul className="tag-list" aria-label={`tags of ${item.title}`}>
          {item.tags.map((t) => (
            <li key={t}>{t}</li>
          ))}
        </ul>
      )}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </li>
  );
}

/** Mark one of the workspace's sources as B-roll (those with a picture) or a sound effect. */
function AddItem({ sources, onAdded }: { sources: PickSource[] | null; onAdded: (i: LibraryItem) => void }) {
  const [kind, setKind] = useState<LibraryKind>("broll");
  const [sourceId, setSourceId] = useState("");
  const [tags, setTags] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const choices = kind === "broll" ? videoSources(sources ?? []) : (sources ?? []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onAdded(await addItem(api, sourceId, kind, parseTags(tags)));
      setSourceId("");
      setTags("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="library-new" onSubmit={submit} aria-label="add to the library">
      <label>
        Kind
        <select name="kind" value={kind} onChange={(e) => { setKind(e.target.value as LibraryKind); setSourceId(""); }}>
          {LIBRARY_KINDS.map((k) => (
            <option key={k} value={k}>
              {KIND_LABELS[k]}
            </option>
          ))}
        </select>
      </label>
      <label className="grow">
        Source
        <select name="source" required value={sourceId} onChange={(e) => setSourceId(e.target.value)}>
          <option value="">{sources === null ? "loading…" : choices.length ? "pick a source" : "no sources yet"}</option>
          {choices.map((s) => (
            <option key={s.id} value={s.id}>
              {sourceLabel(s)}
            </option>
          ))}
        </select>
      </label>
      <label className="grow">
        Tags
        <input name="tags" required placeholder="ocean, waves" value={tags} onChange={(e) => setTags(e.target.value)} />
        <small className="muted">{TAGS_HINT}</small>
      </label>
      <button type="submit" className="primary" disabled={busy || !sourceId || !parseTags(tags).length}>
        Add to library
      </button>
      <div className="wide">
        <ErrorBox error={error} onDismiss={() => setError(null)} />
      </div>
    </form>
  );
}

/** The workspace library: every member sees it; editors and above add, retag and remove
 * items (the server refuses the rest anyway). Jobs with B-roll or sound effects on use it. */
export function Library() {
  const canEdit = useCanEdit();
  const [items, setItems] = useState<LibraryItem[] | null>(null);
  const [sources, setSources] = useState<PickSource[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async (signal: AbortSignal) => {
    try {
      setItems(await listLibrary(api, undefined, signal));
    } catch (err) {
      if (!signal.aborted) setError(err);
    }
  }, []);
  useEffect(() => {
    const stop = new AbortController();
    void load(stop.signal);
    return () => stop.abort();
  }, [load]);
  useEffect(() => {
    if (!canEdit) return;
    const stop = new AbortController();
    listSources(api, stop.signal)
      .then((got) => !stop.signal.aborted && setSources(got))
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, [canEdit]);

  return (
    <main className="library-page">
      <section className="card">
        <h2>Library</h2>
        <p className="muted">B-roll is cut away to where a clip talks about its tags; a sound effect plays on a spoken word that is one of its tags (jobs with "B-roll" or "Sound effects" on).</p>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {canEdit && <AddItem sources={sources} onAdded={(i) => setItems((is) => [i, ...(is ?? [])])} />}
        {items === null && !error && <p className="muted">Loading…</p>}
        {items?.length === 0 && <p className="muted">The library is empty.</p>}
      </section>
      <ul className="library-list" aria-label="library items">
        {items?.map((i) => (
          <ItemRow
            key={i.id}
            item={i}
            onSaved={(got) => setItems((is) => is?.map((x) => (x.id === got.id ? got : x)) ?? null)}
            onRemoved={() => setItems((is) => is?.filter((x) => x.id !== i.id) ?? null)}
          />
        ))}
      </ul>
    </main>
  );
}
