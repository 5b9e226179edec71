import { api } from './api.js';
import { fmtAgo, fmtTime, Link, useData } from './lib.js';

const dagHref = (id: string) => `/dags/${encodeURIComponent(id)}`;

/** Pools (Airflow's Admin → Pools): slots, and how many are held and wanted right now. */
export function PoolsPage() {
  const pools = useData(() => api.pools(), []);
  return (
    <section>
      <h1>Pools</h1>
      <p class="muted">
        Slots shared by every DAG's tasks that name the pool. Change them with <code>aloft pools set NAME SLOTS</code> or PUT /api/v1/pools/NAME.
      </p>
      {pools.error && <p class="error">{pools.error}</p>}
      {!pools.data && !pools.error && <p class="muted">Loading…</p>}
      {pools.data && (
        <div class="table-wrap">
          <table class="pools">
            <thead>
              <tr>
                <th>Pool</th>
                <th>Slots</th>
                <th>Running</th>
                <th>Queued</th>
                <th>Open</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {pools.data.map((p) => (
                <tr key={p.name} data-pool={p.name}>
                  <td>{p.name}</td>
                  <td>{p.slots ?? 'unlimited'}</td>
                  <td>{p.used}</td>
                  <td>{p.queued}</td>
                  <td>{p.open ?? '—'}</td>
                  <td class="muted">{p.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Datasets: which DAGs update each one and which are scheduled on it, and its last update. */
export function DatasetsPage() {
  const datasets = useData(() => api.datasets(), []);
  const dagLinks = (ids: string[]) =>
    ids.length === 0 ? (
      <span class="muted">—</span>
    ) : (
      ids.map((id, i) => (
        <span key={id}>
          {i > 0 && ', '}
          <Link href={dagHref(id)}>{id}</Link>
        </span>
      ))
    );
  return (
    <section>
      <h1>Datasets</h1>
      {datasets.error && <p class="error">{datasets.error}</p>}
      {!datasets.data && !datasets.error && <p class="muted">Loading…</p>}
      {datasets.data && datasets.data.length === 0 && <p class="muted">No task declares outlets and no DAG is scheduled on datasets yet.</p>}
      {datasets.data && datasets.data.length > 0 && (
        <div class="table-wrap">
          <table class="datasets">
            <thead>
              <tr>
                <th>Dataset</th>
                <th>Updated by</th>
                <th>Schedules</th>
                <th>Last update</th>
                <th>Updates</th>
              </tr>
            </thead>
            <tbody>
              {datasets.data.map((d) => (
                <tr key={d.uri} data-dataset={d.uri}>
                  <td>
                    <code>{d.uri}</code>
                  </td>
                  <td>{dagLinks(d.producers)}</td>
                  <td>{dagLinks(d.consumers)}</td>
                  <td title={d.lastUpdateAt ? new Date(d.lastUpdateAt).toISOString() : ''}>
                    {d.lastUpdateAt ? `${fmtTime(d.lastUpdateAt)} (${fmtAgo(d.lastUpdateAt)})` : <span class="muted">never</span>}
                    {d.lastUpdate && (
                      <div class="muted small">
                        by {d.lastUpdate.dagId}.{d.lastUpdate.taskId}
                      </div>
                    )}
                  </td>
                  <td>{d.updates}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
