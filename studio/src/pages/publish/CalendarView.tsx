import type { Calendar } from "./types";

/** The content calendar: the days ahead (and today) with what goes, or went, out on them. */
export function CalendarView({ calendar }: { calendar: Calendar | null }) {
  return (
    <section className="card" aria-labelledby="calendar-heading">
      <h2 id="calendar-heading">Calendar</h2>
      {calendar && (
        <p className="muted">
          {calendar.from} to {calendar.to} (UTC)
        </p>
      )}
      {calendar?.days.length === 0 && <p className="muted">Nothing scheduled.</p>}
      <ol className="calendar" aria-label="calendar">
        {calendar?.days.map((d) => (
          <li key={d.date} className="calendar-day">
            <h3>
              <time dateTime={d.date}>{d.date}</time>
            </h3>
            <ul>
              {d.publications.map((p) => (
                <li key={p.id} data-publication-id={p.id}>
                  <span className="badge">{p.platform}</span> {p.metadata.title || p.clip_id}{" "}
                  <span className={`badge status-${p.status}`}>{p.status}</span>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </section>
  );
}
