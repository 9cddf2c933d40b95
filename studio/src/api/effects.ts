// The render's effects as a form holds them, and the request bodies made from it: a new
// job's `settings` and a re-render's body. Only what the user changed from where the form
// started is sent, so a server that does not know a newer field never sees it, and a
// re-render keeps every setting of the clip the user left alone.

export const LAYOUTS = ["auto", "speaker", "split", "wide"] as const;
export const ZOOMS = ["off", "smooth", "snap", "ken_burns", "pulse"] as const;
export const HOOK_MODES = ["off", "title", "text"] as const;
export const CENSOR_MODES = ["bleep", "silence"] as const;
export const TRANSITIONS = ["none", "crossfade", "wipe", "zoom"] as const;
export const SAFE_AREAS = ["all", "tiktok", "reels", "shorts"] as const;
export type Layout = (typeof LAYOUTS)[number];
export type Zoom = (typeof ZOOMS)[number];
export type HookMode = (typeof HOOK_MODES)[number];
export type CensorMode = (typeof CENSOR_MODES)[number];
export type Transition = (typeof TRANSITIONS)[number];
export type SafeArea = (typeof SAFE_AREAS)[number];

/** What the effects controls show. `""` in a text field or the kit select means none. */
export interface EffectsForm {
  layout: Layout;
  zooms: Zoom;
  hookMode: HookMode;
  hookText: string;
  removeFillers: boolean;
  /** Comma-separated words. */
  censorWords: string;
  censorMode: CensorMode;
  denoise: boolean;
  /** An object key of the workspace's media. */
  music: string;
  brandKitId: string;
  /** How the parts left by filler removal join; only sent as chosen while removeFillers is on. */
  transition: Transition;
  broll: boolean;
  sfx: boolean;
  emoji: boolean;
  safeArea: SafeArea;
  /** Only sent as on while a music key is set (the server refuses beat sync without music). */
  beatSync: boolean;
}

/** The server's own defaults for a new job (JobSettings): a form at these sends nothing. */
export const EFFECTS_DEFAULTS: EffectsForm = {
  layout: "auto",
  zooms: "off",
  hookMode: "off",
  hookText: "",
  removeFillers: false,
  censorWords: "",
  censorMode: "bleep",
  denoise: false,
  music: "",
  brandKitId: "",
  transition: "none",
  broll: false,
  sfx: false,
  emoji: false,
  safeArea: "all",
  beatSync: false,
};

/** The request fields, each made of one or two form fields. */
export type EffectsKey =
  | "layout"
  | "zooms"
  | "hook"
  | "remove_fillers"
  | "censor"
  | "denoise"
  | "music"
  | "brand_kit_id"
  | "transition"
  | "broll"
  | "sfx"
  | "emoji"
  | "safe_area"
  | "beat_sync";
export const EFFECTS_KEYS: readonly EffectsKey[] = [
  "layout",
  "zooms",
  "hook",
  "remove_fillers",
  "censor",
  "denoise",
  "music",
  "brand_kit_id",
  "transition",
  "broll",
  "sfx",
  "emoji",
  "safe_area",
  "beat_sync",
];

/** Which request field a form field feeds (for "the user touched it"). */
export const FORM_KEY: Record<keyof EffectsForm, EffectsKey> = {
  layout: "layout",
  zooms: "zooms",
  hookMode: "hook",
  hookText: "hook",
  removeFillers: "remove_fillers",
  censorWords: "censor",
  censorMode: "censor",
  denoise: "denoise",
  music: "music",
  brandKitId: "brand_kit_id",
  transition: "transition",
  broll: "broll",
  sfx: "sfx",
  emoji: "emoji",
  safeArea: "safe_area",
  beatSync: "beat_sync",
};

/** The words of a comma-separated list: trimmed, empty ones dropped, each once (first spelling kept). */
export function parseWords(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of text.split(",")) {
    const word = raw.trim();
    if (word && !seen.has(word.toLowerCase())) {
      seen.add(word.toLowerCase());
      out.push(word);
    }
  }
  return out;
}

/** How a job (`"job"`: null is none) or a re-render (`"rerender"`: null keeps the clip's own,
 * so "none" is `"none"` for zooms and `""` for hook, music and kit) spells each field. */
export function effectsWire(form: EffectsForm, target: "job" | "rerender"): Record<EffectsKey, unknown> {
  const job = target === "job";
  const hookText = form.hookText.trim();
  const hook = form.hookMode === "title" ? "auto" : form.hookMode === "text" && hookText ? hookText : null;
  const words = parseWords(form.censorWords);
  const music = form.music.trim();
  return {
    layout: form.layout,
    zooms: form.zooms !== "off" ? form.zooms : job ? null : "none",
    hook: hook ?? (job ? null : ""),
    remove_fillers: form.removeFillers,
    // A job without words has no censor; a re-render's empty list takes the clip's off.
    censor: words.length ? { words, mode: form.censorMode } : job ? null : { words: [], mode: form.censorMode },
    denoise: form.denoise,
    music: music || (job ? null : ""),
    brand_kit_id: form.brandKitId || (job ? null : ""),
    // Transitions join what filler removal cut apart: without it there is nothing to join.
    transition: form.removeFillers ? form.transition : "none",
    broll: form.broll,
    sfx: form.sfx,
    emoji: form.emoji,
    safe_area: form.safeArea,
    // Beat sync needs music (else 422 BEAT_SYNC_NEEDS_MUSIC): off without a track.
    beat_sync: form.beatSync && music !== "",
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A new job's effect settings: the fields that differ from the server's defaults. */
export function jobEffects(form: EffectsForm): Partial<Record<EffectsKey, unknown>> {
  const now = effectsWire(form, "job");
  const base = effectsWire(EFFECTS_DEFAULTS, "job");
  return Object.fromEntries(EFFECTS_KEYS.filter((k) => !same(now[k], base[k])).map((k) => [k, now[k]]));
}

/** A re-render's effect fields: those that differ from where the form started (`base`, the
 * clip's own), and those the user touched where the clip did not say its own value (`known`
 * lacks them), since "equal to the form's default" says nothing about the clip then. */
export function rerenderEffects(
  form: EffectsForm,
  base: EffectsForm,
  known: ReadonlySet<EffectsKey>,
  touched: ReadonlySet<EffectsKey>,
): Partial<Record<EffectsKey, unknown>> {
  const now = effectsWire(form, "rerender");
  const was = effectsWire(base, "rerender");
  const send = EFFECTS_KEYS.filter((k) => !same(now[k], was[k]) || (touched.has(k) && !known.has(k)));
  return Object.fromEntries(send.map((k) => [k, now[k]]));
}

const isIn = <T extends string>(list: readonly T[], v: unknown): v is T => typeof v === "string" && (list as readonly string[]).includes(v);

/** The form a clip's own effects start it at, and which fields the clip's JSON reported
 * (a server that does not report one leaves the default there, marked unknown). */
export function effectsOfClip(clip: object): { form: EffectsForm; known: Set<EffectsKey> } {
  // the clip's `settings` (its version's layout and effects); older servers had none
  const own = (clip as { settings?: unknown }).settings;
  const c = (own && typeof own === "object" ? own : clip) as Record<string, unknown>;
  const form = { ...EFFECTS_DEFAULTS };
  const known = new Set<EffectsKey>();
  const has = (k: EffectsKey) => {
    if (k in c) known.add(k);
    return k in c;
  };
  if (has("layout") && isIn(LAYOUTS, c.layout)) form.layout = c.layout;
  if (has("zooms")) form.zooms = isIn(ZOOMS, c.zooms) ? c.zooms : "off";
  if (has("hook")) {
    const hook = typeof c.hook === "string" ? c.hook : "";
    form.hookMode = hook === "auto" ? "title" : hook ? "text" : "off";
    form.hookText = hook === "auto" ? "" : hook;
  }
  if (has("remove_fillers")) form.removeFillers = c.remove_fillers === true;
  if (has("censor")) {
    const censor = c.censor as { words?: unknown; mode?: unknown } | null;
    const words = Array.isArray(censor?.words) ? censor.words.filter((w): w is string => typeof w === "string") : [];
    form.censorWords = words.join(", ");
    if (isIn(CENSOR_MODES, censor?.mode)) form.censorMode = censor.mode;
  }
  if (has("denoise")) form.denoise = c.denoise === true;
  if (has("music")) form.music = typeof c.music === "string" ? c.music : "";
  if (has("brand_kit_id")) form.brandKitId = typeof c.brand_kit_id === "string" ? c.brand_kit_id : "";
  // the clip's settings say null for no transition
  if (has("transition")) form.transition = isIn(TRANSITIONS, c.transition) ? c.transition : "none";
  if (has("broll")) form.broll = c.broll === true;
  if (has("sfx")) form.sfx = c.sfx === true;
  if (has("emoji")) form.emoji = c.emoji === true;
  // null: the clip's captions keep plain margins (not 9:16), so the form's "all" is not the clip's own
  if (isIn(SAFE_AREAS, c.safe_area)) {
    form.safeArea = c.safe_area;
    known.add("safe_area");
  }
  if (has("beat_sync")) form.beatSync = c.beat_sync === true;
  return { form, known };
}
