import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { ErrorBox } from "../../components/ErrorBox";
import "../live/live.css";
import { Accounts } from "./Accounts";
import { AnalyticsView } from "./AnalyticsView";
import { CalendarView } from "./CalendarView";
import { PublishForm } from "./PublishForm";
import { Publications } from "./Publications";
import { ADMIN_ROLES, type Analytics, type Calendar, type ConnectedAccount, type Publication } from "./types";
import "./publish.css";

// Publications move on their own (the publisher uploads, then polls the platform): the page
// refreshes while any is on its way, and slowly otherwise.
const FAST_MS = 2_000;
const SLOW_MS = 15_000;
const MOVING = ["pending", "publishing", "scheduled"];

/** Connected accounts, publishing and scheduling, the approval queue, the calendar and the
 * analytics of what went out. */
export function Publishing({ role }: { role: string | undefined }) {
  const isAdmin = ADMIN_ROLES.includes(role ?? "");
  const canPublish = isAdmin || role === "editor";
  const [accounts, setAccounts] = useState<ConnectedAccount[] | null>(null);
  const [publications, setPublications] = useState<Publication[] | null>(null);
  const [calendar, setCalendar] = useState<Calendar | null>(null);
  const [analytics, setAnalytics] = useState<Analytics | null>(null);
  const [error, setError] = useState<unknown>(null);

  const loadAccounts = useCallback(async () => {
    if (!canPublish) return setAccounts([]);
    try {
      setAccounts(await api.get<ConnectedAccount[]>("/api/auth/accounts"));
    } catch (err) {
      setError(err);
    }
  }, [canPublish]);

  const loadPublications = useCallback(async () => {
    try {
      const [pubs, cal, stats] = await Promise.all([
        api.get<Page<Publication>>("/api/publish?limit=50"),
        api.get<Calendar>("/api/publish/calendar"),
        api.get<Analytics>("/api/publish/analytics?limit=50"),
      ]);
      setPublications(pubs.data);
      setCalendar(cal);
      setAnalytics(stats);
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void loadAccounts();
  }, [loadAccounts]);

  const moving = publications?.some((p) => MOVING.includes(p.status)) ?? false;
  useEffect(() => {
    void loadPublications();
    const timer = window.setInterval(() => void loadPublications(), moving ? FAST_MS : SLOW_MS);
    return () => window.clearInterval(timer);
  }, [loadPublications, moving]);

  return (
    <main className="publish-page">
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      <div className="publish-column">
        {canPublish && <Accounts accounts={accounts} onChange={loadAccounts} canConnect={isAdmin} />}
        {canPublish && accounts && (
          <PublishForm accounts={accounts} isAdmin={isAdmin} onPublished={() => void loadPublications()} />
        )}
      </div>
      <div className="publish-column">
        <Publications publications={publications} isAdmin={isAdmin} onChange={() => void loadPublications()} />
        <CalendarView calendar={calendar} />
        <AnalyticsView analytics={analytics} />
      </div>
    </main>
  );
}
