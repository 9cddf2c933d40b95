import { useCallback, useEffect, useState, type FormEvent } from "react";
import {
  ASSET_KINDS,
  ASSET_TYPES,
  LOGO_OPACITY_RANGE,
  LOGO_POSITIONS,
  LOGO_SIZE_RANGE,
  NAME_MAX,
  kitChanges,
  parseKits,
  uploadAsset,
  type AssetKind,
  type BrandKit,
  type KitFields,
} from "../../api/brand";
import { api } from "../../api/client";
import { listSources, sourceLabel, videoSources, type PickSource } from "../../api/sources";
import { ErrorBox } from "../../components/ErrorBox";
import { useCanEdit } from "../../role";
import "./brand.css";

const fieldsOf = (k: BrandKit): KitFields => ({
  name: k.name,
  logo_position: k.logo_position,
  logo_size: k.logo_size,
  logo_opacity: k.logo_opacity,
  primary_color: k.primary_color,
  accent_color: k.accent_color,
  background_color: k.background_color,
  font_family: k.font_family ?? "",
  intro_source_id: k.intro_source_id ?? "",
  outro_source_id: k.outro_source_id ?? "",
});

/** A select of the workspace's video sources for a kit's intro or outro (`""`: none); a
 * source set on the kit but not listed (older than the newest 100) stays choosable. */
function SourcePicker({ name, label, value, sources, onChange }: {
  name: "intro_source_id" | "outro_source_id"; label: string; value: string; sources: PickSource[] | null; onChange: (v: string) => void;
}) {
  return (
    <label className="wide">
      {label}
      <select name={name} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">none</option>
        {value && !sources?.some((s) => s.id === value) && <option value={value}>(a source not listed)</option>}
        {sources?.map((s) => (
          <option key={s.id} value={s.id}>
            {sourceLabel(s)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** What an asset kind is, and what it holds now. */
function assetState(kit: BrandKit, kind: AssetKind): string | null {
  return kind === "logo" ? kit.logo_url : kind === "background" ? kit.background_url : kit.font_name;
}

/** One kit: its fields (editable by editors and above), its uploaded files, delete. */
function KitCard({ kit, sources, onSaved, onDeleted }: {
  kit: BrandKit; sources: PickSource[] | null; onSaved: (k: BrandKit) => void; onDeleted: () => void;
}) {
  const canEdit = useCanEdit();
  const [draft, setDraft] = useState<KitFields>(() => fieldsOf(kit));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setDraft(fieldsOf(kit)), [kit]);
  const changes = kitChanges(kit, draft);

  async function act(call: () => Promise<BrandKit | undefined>) {
    setBusy(true);
    setError(null);
    try {
      const got = await call();
      if (got) onSaved(got);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const set = <K extends keyof KitFields>(key: K, value: KitFields[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const base = `/api/brand/${encodeURIComponent(kit.id)}`;
  const save = (e: FormEvent) => {
    e.preventDefault();
    void act(() => api.patch<BrandKit>(base, changes));
  };
  const remove = () => {
    if (!window.confirm(`Delete the brand kit "${kit.name}" and its uploaded files?`)) return;
    void act(async () => {
      await api.delete(base);
      onDeleted();
      return undefined;
    });
  };

  return (
    <li className="card kit" data-kit-id={kit.id}>
      <form className="kit-form" onSubmit={save} aria-label={`brand kit ${kit.name}`}>
        <fieldset disabled={!canEdit || busy}>
          <label className="wide">
            Name
            <input name="name" required maxLength={NAME_MAX} value={draft.name} onChange={(e) => set("name", e.target.value)} />
          </label>
          <label>
            Logo position
            <select name="logo_position" value={draft.logo_position} onChange={(e) => set("logo_position", e.target.value as KitFields["logo_position"])}>
              {LOGO_POSITIONS.map((p) => (
                <option key={p} value={p}>
                  {p.replace("_", " ")}
                </option>
              ))}
            </select>
          </label>
          <label>
            Logo size
            <input name="logo_size" type="number" step={0.01} min={LOGO_SIZE_RANGE[0]} max={LOGO_SIZE_RANGE[1]} value={draft.logo_size}
              onChange={(e) => set("logo_size", Number(e.target.value))} />
          </label>
          <label>
            Logo opacity
            <input name="logo_opacity" type="number" step={0.05} min={LOGO_OPACITY_RANGE[0]} max={LOGO_OPACITY_RANGE[1]} value={draft.logo_opacity}
              onChange={(e) => set("logo_opacity", Number(e.target.value))} />
          </label>
          {(["primary_color", "accent_color", "background_color"] as const).map((c) => (
            <label key={c}>
              {c.replace("_color", "").replace(/^./, (x) => x.toUpperCase())} colour
              <input name={c} type="color" value={draft[c].toLowerCase()} onChange={(e) => set(c, e.target.value.toUpperCase())} />
            </label>
          ))}
          <label className="wide">
            Font family
            <input name="font_family" maxLength={NAME_MAX} placeholder="an installed font" value={draft.font_family ?? ""}
              onChange={(e) => set("font_family", e.target.value)} />
          </label>
          <SourcePicker name="intro_source_id" label="Intro (played before each clip)" value={draft.intro_source_id ?? ""} sources={sources}
            onChange={(v) => set("intro_source_id", v)} />
          <SourcePicker name="outro_source_id" label="Outro (played after each clip)" value={draft.outro_source_id ?? ""} sources={sources}
            onChange={(v) => set("outro_source_id", v)} />
          {canEdit && (
            <div className="kit-actions wide">
              <button type="submit" className="primary" disabled={!Object.keys(changes).length}>
                Save kit
              </button>
              <button type="button" onClick={remove}>
                Delete kit
              </button>
            </div>
          )}
        </fieldset>
      </form>
      <ul className="kit-assets" aria-label={`files of ${kit.name}`}>
        {ASSET_KINDS.map((kind) => {
          const now = assetState(kit, kind);
          return (
            <li key={kind} className="kit-asset" data-kind={kind}>
              <strong>{kind}</strong>
              {now && kind !== "font" ? <img src={now} alt={`${kind} of ${kit.name}`} /> : <span className="muted">{now ?? "none"}</span>}
              {canEdit && (
                <>
                  <label className="button upload">
                    Upload {kind}
                    <input type="file" accept={ASSET_TYPES[kind].join(",") + (kind === "font" ? ",.ttf,.otf" : "")} disabled={busy}
                      onChange={(e) => {
                        const file = e.target.files?.[0];
                        e.target.value = "";
                        if (file) void act(() => uploadAsset(api, kit.id, kind, file));
                      }} />
                  </label>
                  {now && (
                    <button type="button" disabled={busy} onClick={() => void act(() => api.delete<BrandKit>(`${base}/assets/${kind}`))}>
                      Remove {kind}
                    </button>
                  )}
                </>
              )}
            </li>
          );
        })}
      </ul>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </li>
  );
}

/** The workspace's brand kits: every member sees them; editors and above create, edit,
 * upload files to and delete them (the server refuses the rest anyway). */
export function BrandKits() {
  const canEdit = useCanEdit();
  const [kits, setKits] = useState<BrandKit[] | null>(null);
  const [sources, setSources] = useState<PickSource[] | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      // Read directly, not through listKits: here a server without kits is an error to show.
      setKits(parseKits(await api.get<unknown>("/api/brand", signal)));
    } catch (err) {
      if (!signal?.aborted) setError(err);
    }
  }, []);
  useEffect(() => {
    const stop = new AbortController();
    void load(stop.signal);
    listSources(api, stop.signal)
      .then((got) => !stop.signal.aborted && setSources(videoSources(got)))
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, [load]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const made = await api.post<BrandKit>("/api/brand", { name: name.trim() });
      setKits((ks) => [made, ...(ks ?? [])]);
      setName("");
    } catch (err) {
      setError(err);
    }
  }

  return (
    <main className="brand-page">
      <section className="card">
        <h2>Brand kits</h2>
        <p className="muted">A kit's logo, colours, font, background, intro and outro are applied to the clips a job or a re-render makes with it.</p>
        <ErrorBox error={error} onDismiss={() => setError(null)} />
        {canEdit && (
          <form className="kit-new" onSubmit={create} aria-label="new brand kit">
            <label className="grow">
              New kit name
              <input name="kit-name" required maxLength={NAME_MAX} value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <button type="submit" className="primary" disabled={!name.trim()}>
              Create kit
            </button>
          </form>
        )}
        {kits === null && !error && <p className="muted">Loading…</p>}
        {kits?.length === 0 && <p className="muted">No brand kits yet.</p>}
      </section>
      <ul className="kit-list">
        {kits?.map((k) => (
          <KitCard
            key={k.id}
            kit={k}
            sources={sources}
            onSaved={(got) => setKits((ks) => ks?.map((x) => (x.id === got.id ? got : x)) ?? null)}
            onDeleted={() => setKits((ks) => ks?.filter((x) => x.id !== k.id) ?? null)}
          />
        ))}
      </ul>
    </main>
  );
}
