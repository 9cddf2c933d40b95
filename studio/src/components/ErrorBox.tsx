import { ApiError } from "../api/client";

/** An error as the API gave it: its code (machine-readable) and its message. */
export function ErrorBox({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : "ERROR";
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert">
      <code className="error-code">{code}</code> <span className="error-message">{message}</span>
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss} aria-label="dismiss">
          ×
        </button>
      )}
    </div>
  );
}
