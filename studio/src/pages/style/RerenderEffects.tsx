import { useMemo, useState, type FormEvent } from "react";
import { FORM_KEY, effectsOfClip, rerenderEffects, type EffectsForm, type EffectsKey } from "../../api/effects";
import type { Clip } from "../../api/types";
import { EffectsFields, useKits } from "../../components/EffectsFields";

/** The clip's layout and effects, started at the clip's own (where its JSON says them);
 * re-rendering sends only what changed, with the styler's aspect when that changed too,
 * and the server keeps the rest of the clip's settings. */
export function RerenderEffects({ clip, aspect, busy, onRerender }: {
  clip: Clip; aspect: string; busy: boolean; onRerender: (body: Record<string, unknown>) => Promise<boolean>;
}) {
  const start = useMemo(() => effectsOfClip(clip), [clip]);
  const [form, setForm] = useState<EffectsForm>(start.form);
  const [touched, setTouched] = useState<Set<EffectsKey>>(() => new Set());
  const [open, setOpen] = useState(false);
  const kits = useKits(open);

  function set<K extends keyof EffectsForm>(key: K, value: EffectsForm[K]) {
    setForm((f) => ({ ...f, [key]: value }));
    setTouched((t) => new Set(t).add(FORM_KEY[key]));
  }

  const body: Record<string, unknown> = rerenderEffects(form, start.form, start.known, touched);
  if (clip.aspect && aspect !== clip.aspect) body.aspect = aspect;
  const changed = Object.keys(body).length > 0;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (await onRerender(body)) setTouched(new Set());
  }

  return (
    <section className="card" aria-label="layout and effects">
      <details className="effects-fold" onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>
          <h2>Layout &amp; effects</h2>
        </summary>
        <form className="rerender-effects" onSubmit={submit} aria-label="re-render with effects">
          <EffectsFields value={form} onChange={set} kits={kits} />
          <div>
            <button type="submit" className="primary" disabled={busy || !changed}>
              Re-render
            </button>
            {!changed && <span className="muted"> change a setting to render a new version</span>}
          </div>
        </form>
      </details>
    </section>
  );
}
