import { useState } from 'preact/hooks';
import { api, type DagSummary } from './api.js';
import { dagHref, fmtAgo, fmtTime, Link, useCanOperate, useConfirm, useData, useLive } from './lib.js';

function RunDots({ dag }: { dag: DagSummary }) {
  // Oldest on the left, as in a timeline.
  const runs = [...dag.recentRuns].reverse();
  if (runs.length === 0) return <span class="muted">no runs yet</span>;
  return (
    <span class="dots">
      {runs.map((r) => (
        <Link
          key={r.runId}
          href={dagHref(dag.id, { run: r.runId })}
          class={`dot st-${r.state}`}
          title={`${r.runId}: ${r.state}`}
          aria-label={`run ${r.runId} ${r.state}`}
        >
          {''}
        </Link>
      ))}
    </span>
  );
}

export function DagList() {
  const dags = useData(() => api.dags(), []);
  const errors = useData(() => api.importErrors(), []);
  const [filter, setFilter] = useState('');
  const canOperate = useCanOperate();
  const { ask, dialog } = useConfirm(() => dags.reload());
  useLive({ types: 'run,dag' }, () => dags.reload(), 1000);

  const q = filter.trim().toLowerCase();
  const shown = (dags.data ?? []).filter((d) => !q || d.id.toLowerCase().includes(q) || d.tags.some((t) => t.toLowerCase().includes(q)));
  return (
    <section>
      <h1>DAGs</h1>
      {errors.data && errors.data.length > 0 && (
        <section class="import-errors" aria-label="Import errors">
          <h2>
            {errors.data.length} DAG file{errors.data.length > 1 ? 's' : ''} failed to import
          </h2>
          <ul>
            {errors.data.map((e) => (
              <li key={e.file}>
                <code>
                  {e.file}
                  {e.line ? `:${e.line}` : ''}
                </code>{' '}
                {e.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      <div class="toolbar">
        <input type="search" placeholder="Filter by id or tag" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} aria-label="Filter DAGs" />
        <span class="muted">{dags.data ? `${shown.length} of ${dags.data.length}` : ''}</span>
      </div>
      {dags.error && <p class="error">{dags.error}</p>}
      {!dags.data && !dags.error && <p class="muted">Loading…</p>}
      {dags.data && (
        <div class="table-wrap">
          <table class="dags">
            <thead>
              <tr>
                <th>DAG</th>
                <th>Schedule</th>
                <th>Next run</th>
                <th>Last runs</th>
                <th>Active</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => (
                <tr key={d.id} data-dag={d.id}>
                  <td>
                    <Link href={dagHref(d.id)} class="dag-id">
                      {d.id}
                    </Link>
                    {d.missing && <span class="badge st-failed">file gone</span>}
                    <div class="tags">
                      {d.tags.map((t) => (
                        <button type="button" class="tag" key={t} onClick={() => setFilter(t)}>
                          {t}
                        </button>
                      ))}
                      <span class="muted small">{d.owners.join(', ')}</span>
                    </div>
                  </td>
                  <td>{d.scheduleText}</td>
                  <td title={d.nextRunAt ? new Date(d.nextRunAt).toISOString() : ''}>
                    {d.nextRunAt ? `${fmtTime(d.nextRunAt)} (${fmtAgo(d.nextRunAt)})` : <span class="muted">—</span>}
                  </td>
                  <td>
                    <RunDots dag={d} />
                  </td>
                  <td>
                    <label class="switch" title={canOperate ? '' : 'needs the operator role'}>
                      <input
                        type="checkbox"
                        role="switch"
                        aria-label={`${d.id} active`}
                        checked={!d.paused}
                        disabled={!canOperate}
                        onClick={(e) => {
                          e.preventDefault();
                          ask({
                            title: d.paused ? `Unpause ${d.id}?` : `Pause ${d.id}?`,
                            body: d.paused ? 'Scheduled runs start again.' : 'No new scheduled runs start; running ones finish.',
                            confirm: d.paused ? 'Unpause' : 'Pause',
                            run: () => api.setPaused(d.id, !d.paused),
                          });
                        }}
                      />
                      <span />
                    </label>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dialog}
    </section>
  );
}
