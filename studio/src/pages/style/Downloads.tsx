import { useState } from "react";
import type { Clip } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import { CLIP_FILES, downloadFile, type ClipFile } from "./files";

/** Download buttons for a rendered clip's MP4, thumbnail, FCPXML and EDL. Each asks for a
 * fresh presigned URL on click (they expire) and hands it to the browser as a download. */
export function Downloads({ clip }: { clip: Clip }) {
  const [error, setError] = useState<unknown>(null);
  if (clip.status !== "rendered") return null;

  async function download(file: ClipFile) {
    setError(null);
    try {
      await downloadFile(clip.id, file);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <div className="downloads" role="group" aria-label={`downloads of version ${clip.version}`}>
      {CLIP_FILES.map(({ file, label }) => (
        <button key={file} type="button" data-file={file} onClick={() => void download(file)}>
          {label}
        </button>
      ))}
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </div>
  );
}
