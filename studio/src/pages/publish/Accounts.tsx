import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api/client";
import { ErrorBox } from "../../components/ErrorBox";
import { type ConnectedAccount, PLATFORMS, type Platform } from "./types";

const CONSENT_POLL_MS = 2_000;
const CONSENT_WAIT_MS = 10 * 60_000;

/** Connected platform accounts: connecting opens the platform's consent page in a new window
 * (the callback stores the account); the list refreshes until it comes back. */
export function Accounts({
  accounts,
  onChange,
  canConnect,
}: {
  accounts: ConnectedAccount[] | null;
  onChange: () => Promise<void>;
  canConnect: boolean;
}) {
  const [error, setError] = useState<unknown>(null);
  const [waiting, setWaiting] = useState<Platform | null>(null);
  const poll = useRef<number | undefined>(undefined);

  useEffect(() => () => window.clearInterval(poll.current), []);

  const connect = useCallback(
    async (platform: Platform) => {
      setError(null);
      // Opened within the click, so that no popup blocker stops it; pointed at the consent
      // page once the API has made its URL (state and PKCE).
      const consent = window.open("about:blank", "_blank");
      try {
        const { url } = await api.get<{ url: string }>(`/api/auth/${platform}/login`);
        if (consent) consent.location.href = url;
        else window.location.href = url;
        setWaiting(platform);
        const began = Date.now();
        window.clearInterval(poll.current);
        poll.current = window.setInterval(() => {
          void onChange();
          if (Date.now() - began > CONSENT_WAIT_MS) {
            window.clearInterval(poll.current);
            setWaiting(null);
          }
        }, CONSENT_POLL_MS);
      } catch (err) {
        consent?.close();
        setError(err);
      }
    },
    [accounts, onChange],
  );

  useEffect(() => {
    if (waiting && accounts?.some((a) => a.platform === waiting && a.status === "active")) {
      window.clearInterval(poll.current);
      setWaiting(null);
    }
  }, [accounts, waiting]);

  const disconnect = async (a: ConnectedAccount) => {
    try {
      await api.delete(`/api/auth/accounts/${encodeURIComponent(a.id)}`);
      await onChange();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-labelledby="accounts-heading">
      <h2 id="accounts-heading">Connected accounts</h2>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      {accounts?.length === 0 && <p className="muted">No accounts connected.</p>}
      <ul className="accounts" aria-label="connected accounts">
        {accounts?.map((a) => (
          <li key={a.id} className="account" data-account-id={a.id}>
            <span className="badge">{a.platform}</span> <span className="account-name">{a.name || a.platform_account_id}</span>{" "}
            <span className={`badge status-${a.status}`}>{a.status}</span>
            {canConnect && (
              <button type="button" className="link" onClick={() => void disconnect(a)} aria-label={`disconnect ${a.name}`}>
                Disconnect
              </button>
            )}
          </li>
        ))}
      </ul>
      {canConnect && (
        <div className="connect-buttons">
          {PLATFORMS.map((p) => (
            <button key={p} type="button" onClick={() => void connect(p)}>
              Connect {p}
            </button>
          ))}
        </div>
      )}
      {waiting && (
        <p className="muted" role="status">
          Waiting for {waiting}'s consent in the other window…
        </p>
      )}
    </section>
  );
}
