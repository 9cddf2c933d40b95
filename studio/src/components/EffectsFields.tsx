import { useEffect, useId, useState, type ReactNode } from "react";
import { listKits, type BrandKit } from "../api/brand";
import { api } from "../api/client";
import { CENSOR_MODES, LAYOUTS, SAFE_AREAS, TRANSITIONS, ZOOMS, type EffectsForm } from "../api/effects";
import "./effects.css";

/** The workspace's brand kits for a select, read once `wanted` (the effects are unfolded,
 * so a form nobody opens asks nothing): null before, when the server has no kits' API
 * (404) or when reading them failed (the form works without a kit). */
export function useKits(wanted: boolean): BrandKit[] | null {
  const [kits, setKits] = useState<BrandKit[] | null>(null);
  useEffect(() => {
    if (!wanted) return;
    const stop = new AbortController();
    listKits(api, stop.signal)
      .then((k) => !stop.signal.aborted && setKits(k))
      .catch(() => !stop.signal.aborted && setKits(null));
    return () => stop.abort();
  }, [wanted]);
  return kits;
}

const label = (v: string) => v.replace(/_/g, " ");

/** A control with a small hint under it: the hint is the control's description
 * (aria-describedby) and stays out of its label, so a label names one control. */
function Hinted({ id, hint, children }: { id: string; hint: string; children: ReactNode }) {
  return (
    <div className="hinted">
      {children}
      <small id={id} className="hint muted">
        {hint}
      </small>
    </div>
  );
}

/** The render's effects, shared by a new job's form and a clip's re-render: layout, zooms,
 * hook, filler removal and its transitions, censoring, denoising, music and beat sync,
 * library B-roll and sound effects, caption emoji and safe area, and brand kit. The kit
 * select is left out where there are no kits (or no kits' API). A control that depends on
 * another (a transition on filler removal, beat sync on music) is disabled, with a hint,
 * until that one is set. */
export function EffectsFields({
  value,
  onChange,
  kits,
}: {
  value: EffectsForm;
  onChange: <K extends keyof EffectsForm>(key: K, v: EffectsForm[K]) => void;
  kits: BrandKit[] | null;
}) {
  const hint = useId();
  return (
    <fieldset className="settings effects" aria-label="effects">
      <label>
        Layout
        <select name="layout" value={value.layout} onChange={(e) => onChange("layout", e.target.value as EffectsForm["layout"])}>
          {LAYOUTS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label>
        Zooms
        <select name="zooms" value={value.zooms} onChange={(e) => onChange("zooms", e.target.value as EffectsForm["zooms"])}>
          {ZOOMS.map((z) => (
            <option key={z} value={z}>
              {label(z)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Hook
        <select name="hook" value={value.hookMode} onChange={(e) => onChange("hookMode", e.target.value as EffectsForm["hookMode"])}>
          <option value="off">off</option>
          <option value="title">the clip's title</option>
          <option value="text">own text</option>
        </select>
      </label>
      {value.hookMode === "text" && (
        <label className="wide">
          Hook text
          <input name="hook-text" value={value.hookText} maxLength={120} required onChange={(e) => onChange("hookText", e.target.value)} />
        </label>
      )}
      <label className="check">
        <input name="remove_fillers" type="checkbox" checked={value.removeFillers} onChange={(e) => onChange("removeFillers", e.target.checked)} />
        Remove fillers
      </label>
      <Hinted id={`${hint}-transition`} hint='joins the cuts of "remove fillers"'>
        <label>
          Transition
          <select name="transition" value={value.removeFillers ? value.transition : "none"} disabled={!value.removeFillers}
            aria-describedby={`${hint}-transition`} onChange={(e) => onChange("transition", e.target.value as EffectsForm["transition"])}>
            {TRANSITIONS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
      </Hinted>
      <label className="check">
        <input name="denoise" type="checkbox" checked={value.denoise} onChange={(e) => onChange("denoise", e.target.checked)} />
        Denoise
      </label>
      <label className="wide">
        Censor words
        <input name="censor-words" placeholder="comma, separated" value={value.censorWords} onChange={(e) => onChange("censorWords", e.target.value)} />
      </label>
      <label>
        Censor mode
        <select name="censor-mode" value={value.censorMode} onChange={(e) => onChange("censorMode", e.target.value as EffectsForm["censorMode"])}>
          {CENSOR_MODES.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label className="wide">
        Music (object key)
        <input name="music" placeholder="music/track.mp3" maxLength={1024} value={value.music} onChange={(e) => onChange("music", e.target.value)} />
      </label>
      <Hinted id={`${hint}-beat`} hint="cuts on the music's beats; needs music">
        <label className="check">
          <input name="beat_sync" type="checkbox" checked={value.beatSync && value.music.trim() !== ""} disabled={!value.music.trim()}
            aria-describedby={`${hint}-beat`} onChange={(e) => onChange("beatSync", e.target.checked)} />
          Beat sync
        </label>
      </Hinted>
      <Hinted id={`${hint}-broll`} hint="cutaways from the library">
        <label className="check">
          <input name="broll" type="checkbox" checked={value.broll} aria-describedby={`${hint}-broll`} onChange={(e) => onChange("broll", e.target.checked)} />
          B-roll
        </label>
      </Hinted>
      <Hinted id={`${hint}-sfx`} hint="from the library, on tagged words">
        <label className="check">
          <input name="sfx" type="checkbox" checked={value.sfx} aria-describedby={`${hint}-sfx`} onChange={(e) => onChange("sfx", e.target.checked)} />
          Sound effects
        </label>
      </Hinted>
      <label className="check">
        <input name="emoji" type="checkbox" checked={value.emoji} onChange={(e) => onChange("emoji", e.target.checked)} />
        Caption emoji
      </label>
      <Hinted id={`${hint}-safe`} hint="whose app UI 9:16 captions keep clear of">
        <label>
          Safe area
          <select name="safe_area" value={value.safeArea} aria-describedby={`${hint}-safe`} onChange={(e) => onChange("safeArea", e.target.value as EffectsForm["safeArea"])}>
            {SAFE_AREAS.map((a) => (
              <option key={a} value={a}>
                {a === "all" ? "every platform" : a}
              </option>
            ))}
          </select>
        </label>
      </Hinted>
      {kits !== null && (kits.length > 0 || value.brandKitId) && (
        <label className="wide">
          Brand kit
          <select name="brand_kit_id" value={value.brandKitId} onChange={(e) => onChange("brandKitId", e.target.value)}>
            <option value="">none</option>
            {value.brandKitId && !kits.some((k) => k.id === value.brandKitId) && <option value={value.brandKitId}>(a kit not listed)</option>}
            {kits.map((k) => (
              <option key={k.id} value={k.id}>
                {k.name}
              </option>
            ))}
          </select>
        </label>
      )}
    </fieldset>
  );
}
