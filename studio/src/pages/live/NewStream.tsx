import { type FormEvent, useState } from "react";
import { api } from "../../api/client";
import { ErrorBox } from "../../components/ErrorBox";
import type { StreamCreated } from "./types";

const ASPECTS = ["9:16", "1:1", "16:9", "4:5"];

/** Start watching a stream: a URL clipray pulls, or push ingest (its URL shown this once). */
export function NewStream({ onCreated }: { onCreated: (id: string) => void }) {
  const [push, setPush] = useState(false);
  const [url, setUrl] = useState("");
  const [keywords, setKeywords] = useState("");
  const [minDuration, setMinDuration] = useState(15);
  const [maxDuration, setMaxDuration] = useState(45);
  const [aspect, setAspect] = useState("9:16");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [ingestUrl, setIngestUrl] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const settings = {
        min_duration: minDuration,
        max_duration: maxDuration,
        aspect,
        keywords: keywords.split(",").map((k) => k.trim()).filter(Boolean),
      };
      const made = await api.post<StreamCreated>("/api/streams", { url: push ? "rtmp-push" : url.trim(), settings });
      setIngestUrl(made.ingest_url);
      setUrl("");
      onCreated(made.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="new-stream-heading">
      <h2 id="new-stream-heading">Watch a stream</h2>
      <form className="new-job" onSubmit={(e) => void submit(e)}>
        <label className="inline">
          <input type="checkbox" checked={push} onChange={(e) => setPush(e.target.checked)} />
          Push ingest (OBS pushes to clipray)
        </label>
        {!push && (
          <label>
            Stream URL
            <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://…/live.m3u8" />
          </label>
        )}
        <label>
          Keywords (comma-separated)
          <input value={keywords} onChange={(e) => setKeywords(e.target.value)} />
        </label>
        <fieldset className="settings">
          <legend>Clips</legend>
          <label>
            Min s
            <input type="number" min={5} max={180} value={minDuration} onChange={(e) => setMinDuration(Number(e.target.value))} />
          </label>
          <label>
            Max s
            <input type="number" min={5} max={180} value={maxDuration} onChange={(e) => setMaxDuration(Number(e.target.value))} />
          </label>
          <label>
            Aspect
            <select value={aspect} onChange={(e) => setAspect(e.target.value)}>
              {ASPECTS.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          </label>
        </fieldset>
        <ErrorBox error={error} />
        <button type="submit" className="primary" disabled={busy}>
          Start monitor
        </button>
      </form>
      {ingestUrl && (
        <div className="ingest-url" role="status">
          <p>Push to this URL from OBS. It holds the stream key and is shown only this once:</p>
          <code data-testid="ingest-url">{ingestUrl}</code>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(ingestUrl)}>
            Copy
          </button>
          <button type="button" className="link" onClick={() => setIngestUrl(null)}>
            I saved it
          </button>
        </div>
      )}
    </section>
  );
}
