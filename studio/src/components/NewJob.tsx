import { useRef, useState, type DragEvent, type FormEvent } from "react";
import { api } from "../api/client";
import { ASPECTS, CAPTION_STYLES, type Aspect, type CaptionStyle, type JobSettings } from "../api/types";
import { uploadVideo } from "../api/upload";
import { EFFECTS_DEFAULTS, jobEffects, type EffectsForm } from "../api/effects";
import { EffectsFields, useKits } from "./EffectsFields";
import { ErrorBox } from "./ErrorBox";

const DEFAULTS: JobSettings = { max_clips: 5, min_duration: 15, max_duration: 60, aspect: "9:16", captions: "highlight_word" };

/** A new job from a URL, or from a file dropped (or picked) and uploaded with a progress bar. */
export function NewJob({ onCreated }: { onCreated: (jobId: string) => void }) {
  const [url, setUrl] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [settings, setSettings] = useState<JobSettings>(DEFAULTS);
  const [effects, setEffects] = useState<EffectsForm>(EFFECTS_DEFAULTS);
  const [effectsOpen, setEffectsOpen] = useState(false);
  const kits = useKits(effectsOpen);
  const [progress, setProgress] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const input = useRef<HTMLInputElement>(null);

  function set<K extends keyof JobSettings>(key: K, value: JobSettings[K]) {
    setSettings((s) => ({ ...s, [key]: value }));
  }

  function setEffect<K extends keyof EffectsForm>(key: K, value: EffectsForm[K]) {
    setEffects((s) => ({ ...s, [key]: value }));
  }

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    const dropped = e.dataTransfer.files[0];
    if (dropped) {
      setFile(dropped);
      setUrl("");
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let source: Record<string, string>;
      if (file) {
        setProgress(0);
        const done = await uploadVideo(api, file, setProgress);
        source = { source_id: done.source_id };
      } else {
        source = { source_url: url.trim() };
      }
      // Effects only where changed: a server without a newer field never sees it.
      const job = await api.post<{ id: string }>("/api/jobs", { ...source, settings: { ...settings, ...jobEffects(effects) } });
      setFile(null);
      setUrl("");
      setProgress(null);
      onCreated(job.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card new-job" onSubmit={submit} aria-label="new job">
      <h2>New job</h2>
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        onClick={() => input.current?.click()}
        onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && input.current?.click()}
        role="button"
        tabIndex={0}
      >
        {file ? (
          <span>
            <strong>{file.name}</strong> ({(file.size / 1e6).toFixed(1)} MB)
          </span>
        ) : (
          <span>Drop a video here, or click to pick one</span>
        )}
        <input
          ref={input}
          type="file"
          accept="video/*"
          hidden
          data-testid="file-input"
          onChange={(e) => {
            setFile(e.target.files?.[0] ?? null);
            setUrl("");
          }}
        />
      </div>
      <label>
        …or a video URL
        <input
          name="source_url"
          type="url"
          placeholder="https://"
          value={url}
          disabled={file !== null}
          onChange={(e) => setUrl(e.target.value)}
        />
      </label>
      {progress !== null && (
        <div className="progress" role="progressbar" aria-label="upload" aria-valuenow={Math.round(progress * 100)} aria-valuemin={0} aria-valuemax={100}>
          <div style={{ width: `${progress * 100}%` }} />
          <span>{progress < 1 ? `uploading ${Math.round(progress * 100)}%` : "uploaded, checking the video…"}</span>
        </div>
      )}
      <fieldset className="settings">
        <legend>Settings</legend>
        <label>
          Clips
          <input name="max_clips" type="number" min={1} max={20} value={settings.max_clips} onChange={(e) => set("max_clips", Number(e.target.value))} />
        </label>
        <label>
          Min s
          <input name="min_duration" type="number" min={3} max={600} step="any" value={settings.min_duration} onChange={(e) => set("min_duration", Number(e.target.value))} />
        </label>
        <label>
          Max s
          <input name="max_duration" type="number" min={3} max={600} step="any" value={settings.max_duration} onChange={(e) => set("max_duration", Number(e.target.value))} />
        </label>
        <label>
          Aspect
          <select name="aspect" value={settings.aspect} onChange={(e) => set("aspect", e.target.value as Aspect)}>
            {ASPECTS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Captions
          <select name="captions" value={settings.captions} onChange={(e) => set("captions", e.target.value as CaptionStyle)}>
            {CAPTION_STYLES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      </fieldset>
      <details className="effects-fold" onToggle={(e) => setEffectsOpen(e.currentTarget.open)}>
        <summary>Effects</summary>
        <EffectsFields value={effects} onChange={setEffect} kits={kits} />
      </details>
      <ErrorBox error={error} />
      <button type="submit" className="primary" disabled={busy || (!file && !url.trim())}>
        {busy ? "Starting…" : "Start job"}
      </button>
    </form>
  );
}
