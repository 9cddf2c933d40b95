// The effects form's request bodies: a new job sends only what differs from the server's
// defaults; a re-render only what differs from the clip's own, in the re-render's spelling.
import { describe, expect, it } from "vitest";
import { EFFECTS_DEFAULTS, effectsOfClip, jobEffects, parseWords, rerenderEffects, type EffectsForm, type EffectsKey } from "./effects";

const form = (over: Partial<EffectsForm>): EffectsForm => ({ ...EFFECTS_DEFAULTS, ...over });
const none = new Set<EffectsKey>();

describe("parseWords", () => {
  it("splits on commas, trims, drops empties and repeats (ignoring case)", () => {
    expect(parseWords(" damn, heck ,, Damn,  ")).toEqual(["damn", "heck"]);
    expect(parseWords("")).toEqual([]);
  });
});

describe("jobEffects", () => {
  it("sends nothing for an untouched form", () => {
    expect(jobEffects(EFFECTS_DEFAULTS)).toEqual({});
  });
  it("sends each changed field alone, in the job's spelling", () => {
    expect(jobEffects(form({ zooms: "pulse" }))).toEqual({ zooms: "pulse" });
    expect(jobEffects(form({ layout: "split", denoise: true }))).toEqual({ layout: "split", denoise: true });
    expect(jobEffects(form({ hookMode: "title" }))).toEqual({ hook: "auto" });
    expect(jobEffects(form({ hookMode: "text", hookText: "  Wait for it " }))).toEqual({ hook: "Wait for it" });
    expect(jobEffects(form({ removeFillers: true }))).toEqual({ remove_fillers: true });
    expect(jobEffects(form({ music: " music/bed.mp3 " }))).toEqual({ music: "music/bed.mp3" });
    expect(jobEffects(form({ brandKitId: "k1" }))).toEqual({ brand_kit_id: "k1" });
  });
  it("sends censor only with words, carrying its mode", () => {
    expect(jobEffects(form({ censorMode: "silence" }))).toEqual({});
    expect(jobEffects(form({ censorWords: "heck, darn", censorMode: "silence" }))).toEqual({
      censor: { words: ["heck", "darn"], mode: "silence" },
    });
  });
  it("sends the library, caption and music settings that changed", () => {
    expect(jobEffects(form({ broll: true, sfx: true }))).toEqual({ broll: true, sfx: true });
    expect(jobEffects(form({ emoji: true, safeArea: "tiktok" }))).toEqual({ emoji: true, safe_area: "tiktok" });
    expect(jobEffects(form({ removeFillers: true, transition: "wipe" }))).toEqual({ remove_fillers: true, transition: "wipe" });
    expect(jobEffects(form({ music: "m/bed.mp3", beatSync: true }))).toEqual({ music: "m/bed.mp3", beat_sync: true });
  });
  it("sends no transition without filler removal, and no beat sync without music", () => {
    expect(jobEffects(form({ transition: "crossfade" }))).toEqual({});
    expect(jobEffects(form({ beatSync: true, music: "   " }))).toEqual({});
  });
  it("treats a hook with no text, or changed back, as unchanged", () => {
    expect(jobEffects(form({ hookMode: "text", hookText: "   " }))).toEqual({});
    expect(jobEffects(form({ zooms: "off", layout: "auto" }))).toEqual({});
  });
});

describe("rerenderEffects", () => {
  it("sends only what differs from the clip's own, taking things off in the re-render's spelling", () => {
    const { form: base, known } = effectsOfClip({ zooms: "snap", hook: "auto", music: "m.mp3", censor: { words: ["heck"], mode: "bleep" } });
    expect(rerenderEffects(base, base, known, none)).toEqual({});
    expect(rerenderEffects({ ...base, zooms: "off" }, base, known, none)).toEqual({ zooms: "none" });
    expect(rerenderEffects({ ...base, hookMode: "off" }, base, known, none)).toEqual({ hook: "" });
    expect(rerenderEffects({ ...base, music: "" }, base, known, none)).toEqual({ music: "" });
    expect(rerenderEffects({ ...base, censorWords: "" }, base, known, none)).toEqual({ censor: { words: [], mode: "bleep" } });
  });
  it("takes the newer effects off in the re-render's spelling", () => {
    const clip = { settings: { remove_fillers: true, transition: "crossfade", music: "m.mp3", beat_sync: true, broll: true, sfx: false, emoji: true, safe_area: "reels" } };
    const { form: base, known } = effectsOfClip(clip);
    expect(rerenderEffects(base, base, known, none)).toEqual({});
    expect(rerenderEffects({ ...base, transition: "none" }, base, known, none)).toEqual({ transition: "none" });
    expect(rerenderEffects({ ...base, removeFillers: false }, base, known, none)).toEqual({ remove_fillers: false, transition: "none" });
    expect(rerenderEffects({ ...base, music: "" }, base, known, none)).toEqual({ music: "", beat_sync: false });
    expect(rerenderEffects({ ...base, broll: false, sfx: true, emoji: false }, base, known, none)).toEqual({ broll: false, sfx: true, emoji: false });
    expect(rerenderEffects({ ...base, safeArea: "shorts" }, base, known, none)).toEqual({ safe_area: "shorts" });
  });
  it("sends a touched field the clip did not report, even at the form's default", () => {
    const { form: base, known } = effectsOfClip({ aspect: "1:1" });
    expect(known.size).toBe(0);
    expect(rerenderEffects(base, base, known, new Set<EffectsKey>(["denoise"]))).toEqual({ denoise: false });
    expect(rerenderEffects({ ...base, zooms: "pulse" }, base, known, none)).toEqual({ zooms: "pulse" });
  });
  it("does not send a touched field the clip reported and the user set back", () => {
    const { form: base, known } = effectsOfClip({ denoise: true });
    expect(rerenderEffects(base, base, known, new Set<EffectsKey>(["denoise"]))).toEqual({});
  });
});

describe("effectsOfClip", () => {
  it("reads the clip's own fields and marks which it reported", () => {
    const { form: f, known } = effectsOfClip({ layout: "wide", zooms: null, hook: "Big news", remove_fillers: true, brand_kit_id: "k2" });
    expect(f).toEqual(form({ layout: "wide", hookMode: "text", hookText: "Big news", removeFillers: true, brandKitId: "k2" }));
    expect([...known].sort()).toEqual(["brand_kit_id", "hook", "layout", "remove_fillers", "zooms"]);
  });
  it("keeps the defaults for values it does not know", () => {
    expect(effectsOfClip({ layout: "diagonal", zooms: "wobble" }).form).toEqual(EFFECTS_DEFAULTS);
  });
  it("reads the version's settings where the clip carries them", () => {
    const clip = { id: "c1", aspect: "9:16", settings: { layout: "split", zooms: "pulse", hook: null, censor: { words: ["heck", "darn"], mode: "silence" }, denoise: true } };
    const { form: f, known } = effectsOfClip(clip);
    expect(f).toEqual(form({ layout: "split", zooms: "pulse", censorWords: "heck, darn", censorMode: "silence", denoise: true }));
    expect([...known].sort()).toEqual(["censor", "denoise", "hook", "layout", "zooms"]);
  });
  it("reads a null transition as none and a null safe area as not the clip's own", () => {
    const clip = { settings: { remove_fillers: true, transition: null, safe_area: null, beat_sync: false, emoji: false } };
    const { form: f, known } = effectsOfClip(clip);
    expect(f).toEqual(form({ removeFillers: true }));
    expect([...known].sort()).toEqual(["beat_sync", "emoji", "remove_fillers", "transition"]);
    expect(rerenderEffects(f, f, known, new Set<EffectsKey>(["safe_area"]))).toEqual({ safe_area: "all" });
  });
});
