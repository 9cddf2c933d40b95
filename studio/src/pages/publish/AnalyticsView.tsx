import type { Analytics } from "./types";

/** Views, likes and comments of published posts as last pulled, with totals per platform. */
export function AnalyticsView({ analytics }: { analytics: Analytics | null }) {
  return (
    <section className="card" aria-labelledby="analytics-heading">
      <h2 id="analytics-heading">Analytics</h2>
      {analytics?.total === 0 && <p className="muted">No published posts yet.</p>}
      {analytics && analytics.total > 0 && (
        <div className="table-scroll">
          <table className="analytics">
            <caption className="visually-hidden">Totals per platform</caption>
            <thead>
              <tr>
                <th scope="col">Platform</th>
                <th scope="col">Posts</th>
                <th scope="col">Views</th>
                <th scope="col">Likes</th>
                <th scope="col">Comments</th>
              </tr>
            </thead>
            <tbody>
              {analytics.totals.map((t) => (
                <tr key={t.platform}>
                  <th scope="row">{t.platform}</th>
                  <td>{t.publications}</td>
                  <td>{t.views}</td>
                  <td>{t.likes}</td>
                  <td>{t.comments}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
