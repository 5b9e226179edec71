import dagre from '@dagrejs/dagre';
import { useMemo, useRef, useState } from 'preact/hooks';
import { api, type DagDetail, type Grid, type ParamSpec, type TaskInstance } from './api.js';
import {
  dagHref,
  errorText,
  fmtDuration,
  fmtTime,
  Link,
  navigate,
  setQuery,
  StateBadge,
  tiHref,
  useCanOperate,
  useConfirm,
  useData,
  useLive,
  useRoute,
} from './lib.js';

const PAGE = 25;

export function DagPage({ dagId }: { dagId: string }) {
  const { query } = useRoute();
  const tab = query.get('tab') ?? 'grid';
  const page = Number(query.get('page') ?? 0) || 0;
  const dag = useData(() => api.dag(dagId), [dagId]);
  const grid = useData(() => api.grid(dagId, PAGE, page * PAGE), [dagId, page]);
  const runId = query.get('run') ?? grid.data?.runs[0]?.runId;
  const tis = useData(() => (runId ? api.tis(dagId, runId) : Promise.resolve([] as TaskInstance[])), [dagId, runId]);
  const canOperate = useCanOperate();
  const [triggering, setTriggering] = useState(false);
  const { ask, dialog } = useConfirm(() => {
    dag.reload();
    grid.reload();
    tis.reload();
  });
  const live = useLive({ dagId }, (batch) => {
    if (batch.some((e) => e.type === 'dag')) dag.reload();
    grid.reload();
    if (batch.some((e) => e.runId === runId)) tis.reload();
  });

  if (dag.error) return <p class="error">{dag.error}</p>;
  const d = dag.data;
  const run = grid.data?.runs.find((r) => r.runId === runId);
  return (
    <section>
      <nav class="crumbs">
        <Link href="/">DAGs</Link> / <span>{dagId}</span>
      </nav>
      <div class="page-head">
        <h1>{dagId}</h1>
        {d && (
          <div class="head-actions">
            <span class={`live ${live ? 'on' : ''}`} title={live ? 'live updates on' : 'reconnecting…'}>
              {live ? 'live' : 'offline'}
            </span>
            <label class="switch">
              <input
                type="checkbox"
                role="switch"
                aria-label={`${dagId} active`}
                checked={!d.paused}
                disabled={!canOperate}
                onClick={(e) => {
                  e.preventDefault();
                  ask({
                    title: d.paused ? `Unpause ${dagId}?` : `Pause ${dagId}?`,
                    confirm: d.paused ? 'Unpause' : 'Pause',
                    run: () => api.setPaused(dagId, !d.paused),
                  });
                }}
              />
              <span />
              {d.paused ? 'paused' : 'active'}
            </label>
            <button type="button" class="primary" disabled={!canOperate || d.missing || dagId === 'adhoc'} onClick={() => setTriggering(true)}>
              Trigger
            </button>
            {d.missing && canOperate && (
              <button
                type="button"
                class="danger"
                onClick={() =>
                  ask({
                    title: `Delete ${dagId}?`,
                    body: 'Its runs, task instances and logs are deleted too. This cannot be undone.',
                    confirm: 'Delete DAG',
                    danger: true,
                    run: async () => {
                      await api.deleteDag(dagId);
                      navigate('/', true);
                    },
                  })
                }
              >
                Delete DAG
              </button>
            )}
          </div>
        )}
      </div>
      {d && (
        <p class="muted">
          {d.description} <code>{d.fileloc}</code>
        </p>
      )}
      {d?.missing && (
        <p class="note" role="note">
          The file that defined this DAG is gone, so it is no longer scheduled. Its history stays until it is deleted.
        </p>
      )}
      {d?.podNote && (
        <p class="note" role="note">
          {d.podNote}
        </p>
      )}
      <div class="tabs" role="tablist">
        {(['grid', 'graph', 'gantt'] as const).map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={tab === t}
            class={tab === t ? 'active' : ''}
            onClick={() => setQuery('tab', t === 'grid' ? undefined : t)}
          >
            {t === 'gantt' ? 'Timeline' : t[0]!.toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      {grid.error && <p class="error">{grid.error}</p>}
      <div class="dag-body">
        <div class="dag-main">
          {tab === 'grid' && grid.data && d && <GridView dag={d} grid={grid.data} runId={runId} page={page} />}
          {tab === 'graph' && d && <GraphView dag={d} tis={tis.data ?? []} runId={runId} />}
          {tab === 'gantt' && <Gantt tis={tis.data ?? []} dagId={dagId} />}
          {!grid.data && !grid.error && <p class="muted">Loading…</p>}
        </div>
        {run && (
          <aside class="panel" aria-label="Selected run">
            <h2>Run</h2>
            <dl>
              <dt>Run id</dt>
              <dd class="mono">{run.runId}</dd>
              <dt>State</dt>
              <dd>
                <StateBadge state={run.state} />
              </dd>
              <dt>Type</dt>
              <dd>{run.runType}</dd>
              <dt>Logical date</dt>
              <dd>{fmtTime(run.logicalDate)}</dd>
              <dt>Started</dt>
              <dd>{fmtTime(run.startDate)}</dd>
              <dt>Duration</dt>
              <dd>{run.startDate ? fmtDuration((run.endDate ?? Date.now()) - run.startDate) : '—'}</dd>
            </dl>
            {canOperate && (run.state === 'running' || run.state === 'queued') && (
              <button
                type="button"
                class="danger"
                onClick={() =>
                  ask({
                    title: `Cancel run ${run.runId}?`,
                    body: 'Running tasks are stopped and the run is marked failed.',
                    confirm: 'Cancel run',
                    danger: true,
                    run: () => api.cancel(dagId, run.runId),
                  })
                }
              >
                Cancel run
              </button>
            )}
          </aside>
        )}
      </div>
      {d && triggering && (
        <TriggerDialog
          dag={d}
          onClose={(runIdMade) => {
            setTriggering(false);
            if (runIdMade) {
              navigate(dagHref(dagId, { ...(tab !== 'grid' ? { tab } : {}), run: runIdMade }), true);
              grid.reload();
            }
          }}
        />
      )}
      {dialog}
    </section>
  );
}

function GridView({ dag, grid, runId, page }: { dag: DagDetail; grid: Grid; runId: string | undefined; page: number }) {
  const runs = [...grid.runs].reverse();
  const pages = Math.max(1, Math.ceil(grid.total / PAGE));
  if (grid.runs.length === 0) return <p class="muted">No runs yet. Trigger one, or wait for the schedule.</p>;
  return (
    <div>
      <div class="toolbar">
        <button type="button" disabled={page + 1 >= pages} onClick={() => setQuery('page', String(page + 1))}>
          ← Older
        </button>
        <span class="muted">
          runs {page * PAGE + 1}–{Math.min(grid.total, page * PAGE + grid.runs.length)} of {grid.total}
        </span>
        <button type="button" disabled={page === 0} onClick={() => setQuery('page', page > 1 ? String(page - 1) : undefined)}>
          Newer →
        </button>
      </div>
      <div class="grid-wrap">
        <table class="grid">
          <thead>
            <tr>
              <th class="task-col">Task</th>
              {runs.map((r) => (
                <th key={r.runId}>
                  <button
                    type="button"
                    class={`run-bar st-${r.state} ${r.runId === runId ? 'selected' : ''}`}
                    title={`${r.runId}\n${r.state} · ${fmtTime(r.logicalDate)}`}
                    aria-label={`run ${r.runId} ${r.state}`}
                    onClick={() => setQuery('run', r.runId)}
                  />
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {grid.tasks.map((t) => (
              <tr key={t.id}>
                <th class="task-col" title={`${t.kind}${t.mapped ? ' · mapped' : ''}${t.triggerRule !== 'all_success' ? ` · ${t.triggerRule}` : ''}`}>
                  {t.id}
                  {t.mapped && <span class="muted small"> [ ]</span>}
                </th>
                {runs.map((r) => {
                  const s = r.tis[t.id] ?? 'none';
                  // An expanded mapped task: its instances summed up, and how many there are.
                  const m = r.mapped?.[t.id];
                  const counts = m
                    ? ` (${m.n} instances: ${Object.entries(m.states)
                        .map(([k, v]) => `${v} ${k}`)
                        .join(', ')})`
                    : '';
                  return (
                    <td key={r.runId} class={r.runId === runId ? 'selected' : ''}>
                      <Link
                        href={tiHref(dag.id, r.runId, t.id)}
                        class={`cell st-${s}${m ? ' mapped' : ''}`}
                        title={`${t.id} · ${r.runId}: ${s}${counts}`}
                        aria-label={`${t.id} in ${r.runId}: ${s}${counts}`}
                        data-run={r.runId}
                        data-task={t.id}
                        data-state={s}
                        data-mapped={m?.n}
                      >
                        {m ? `[${m.n}]` : ''}
                      </Link>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Legend />
    </div>
  );
}

const LEGEND = ['none', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry', 'up_for_reschedule', 'upstream_failed', 'skipped'];
function Legend() {
  return (
    <p class="legend">
      {LEGEND.map((s) => (
        <span key={s}>
          <i class={`cell st-${s}`} /> {s.replace(/_/g, ' ')}
        </span>
      ))}
    </p>
  );
}

interface Laid {
  nodes: { id: string; x: number; y: number; w: number; h: number; kind: string }[];
  groups: { id: string; x: number; y: number; w: number; h: number; tooltip?: string | undefined }[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

const GROUP = 'group:';

/** Lays the DAG out left to right with dagre, task groups as clusters; once per DAG structure. */
function layout(dag: DagDetail): Laid {
  const groups = dag.groups ?? [];
  const g = new dagre.graphlib.Graph({ compound: groups.length > 0 });
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 48, marginx: 8, marginy: groups.length ? 24 : 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const label = (id: string) => (id.includes('.') ? id.slice(id.lastIndexOf('.') + 1) : id);
  for (const t of dag.tasks) g.setNode(t.id, { width: Math.max(90, label(t.id).length * 7.4 + 28), height: 34 });
  for (const grp of groups) g.setNode(GROUP + grp.id, { paddingTop: 22 });
  for (const grp of groups) if (grp.parent) g.setParent(GROUP + grp.id, GROUP + grp.parent);
  for (const t of dag.tasks) if (t.group) g.setParent(t.id, GROUP + t.group);
  for (const t of dag.tasks) for (const u of t.upstream) g.setEdge(u, t.id);
  dagre.layout(g);
  const info = g.graph();
  const box = (id: string) => {
    const n = g.node(id);
    return { x: n.x - n.width / 2, y: n.y - n.height / 2, w: n.width, h: n.height };
  };
  return {
    nodes: dag.tasks.map((t) => ({ id: t.id, kind: t.kind, ...box(t.id) })),
    groups: groups.map((grp) => ({ id: grp.id, tooltip: grp.tooltip, ...box(GROUP + grp.id) })),
    edges: g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] })),
    width: info.width ?? 0,
    height: info.height ?? 0,
  };
}

function GraphView({ dag, tis, runId }: { dag: DagDetail; tis: TaskInstance[]; runId: string | undefined }) {
  const laid = useMemo(() => layout(dag), [dag]);
  // One node per task: a mapped task's row as a whole, not its instances.
  const whole = tis.filter((t) => t.mapIndex < 0);
  const states = new Map(whole.map((t) => [t.taskId, t.state]));
  const counts = new Map(whole.flatMap((t) => (t.mapped ? [[t.taskId, t.mapped.n] as const] : [])));
  return (
    <div class="graph-wrap">
      <svg class="graph" viewBox={`0 0 ${laid.width} ${laid.height}`} width={laid.width} height={laid.height} role="img" aria-label={`graph of ${dag.id}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        {laid.groups.map((grp) => (
          <g key={grp.id} class="group" data-group={grp.id}>
            <title>{grp.tooltip ? `${grp.id}: ${grp.tooltip}` : grp.id}</title>
            <rect x={grp.x} y={grp.y - 14} width={grp.w} height={grp.h + 14} rx="8" />
            <text x={grp.x + 8} y={grp.y + 2}>
              {grp.id.slice(grp.id.lastIndexOf('.') + 1)}
            </text>
          </g>
        ))}
        {laid.edges.map((e) => (
          <path key={`${e.from}>${e.to}`} class="edge" marker-end="url(#arrow)" d={e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ')} />
        ))}
        {laid.nodes.map((n) => {
          const s = states.get(n.id) ?? 'none';
          const mapped = counts.get(n.id);
          const body = (
            <g class={`node st-${s}`} data-task={n.id} data-state={s}>
              <title>{`${n.id} (${n.kind}): ${s}${mapped === undefined ? '' : `, ${mapped} mapped instances`}`}</title>
              <rect x={n.x} y={n.y} width={n.w} height={n.h} rx="6" />
              <text x={n.x + n.w / 2} y={n.y + n.h / 2 + 4} text-anchor="middle">
                {n.id.slice(n.id.lastIndexOf('.') + 1)}
                {mapped === undefined ? '' : ` [${mapped}]`}
              </text>
            </g>
          );
          return runId ? (
            <a key={n.id} href={tiHref(dag.id, runId, n.id)} onClick={(e) => (e.preventDefault(), navigate(tiHref(dag.id, runId, n.id)))}>
              {body}
            </a>
          ) : (
            <g key={n.id}>{body}</g>
          );
        })}
      </svg>
      <Legend />
    </div>
  );
}

/**
 * A mapped task as one row from its first instance queued to its last one ended (running
 * while any is); the rest of the run's task instances as they are.
 */
function timelineRows(tis: TaskInstance[]): TaskInstance[] {
  const instances = new Map<string, TaskInstance[]>();
  for (const t of tis) if (t.mapIndex >= 0) (instances.get(t.taskId) ?? instances.set(t.taskId, []).get(t.taskId)!).push(t);
  const min = (xs: (number | undefined)[]) => xs.reduce<number | undefined>((a, x) => (x === undefined ? a : a === undefined ? x : Math.min(a, x)), undefined);
  return tis
    .filter((t) => t.mapIndex < 0)
    .map((t) => {
      const of = instances.get(t.taskId);
      if (!t.mapped || !of) return t;
      const ends = of.map((i) => i.endDate);
      return {
        ...t,
        queuedAt: min(of.map((i) => i.queuedAt)),
        startDate: min(of.map((i) => i.startDate)),
        endDate: ends.includes(undefined) ? undefined : Math.max(...(ends as number[])),
      };
    });
}

function Gantt({ tis, dagId }: { tis: TaskInstance[]; dagId: string }) {
  const rows = timelineRows(tis)
    .filter((t) => t.queuedAt || t.startDate)
    .sort((a, b) => (a.startDate ?? a.queuedAt ?? 0) - (b.startDate ?? b.queuedAt ?? 0));
  if (rows.length === 0) return <p class="muted">Nothing has run in this run yet.</p>;
  const now = Date.now();
  const t0 = Math.min(...rows.map((t) => t.queuedAt ?? t.startDate!));
  const t1 = Math.max(...rows.map((t) => t.endDate ?? (t.state === 'running' ? now : (t.startDate ?? t.queuedAt!))), t0 + 1);
  const pct = (ms: number) => `${(((ms - t0) / (t1 - t0)) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `${Math.max(0.3, ((b - a) / (t1 - t0)) * 100).toFixed(3)}%`;
  return (
    <div class="gantt" role="table" aria-label="Run timeline">
      <div class="gantt-scale muted small">
        <span>{fmtTime(t0)}</span>
        <span>total {fmtDuration(t1 - t0)}</span>
      </div>
      {rows.map((t) => {
        const start = t.startDate;
        const end = t.endDate ?? (t.state === 'running' ? now : start);
        return (
          <div class="gantt-row" role="row" key={t.taskId}>
            <Link href={tiHref(dagId, t.runId, t.taskId)} class="gantt-label">
              {t.taskId}
              {t.mapped ? ` [${t.mapped.n}]` : ''}
            </Link>
            <div class="gantt-track">
              {t.queuedAt && start && start > t.queuedAt && (
                <span
                  class="gantt-wait"
                  style={{ left: pct(t.queuedAt), width: width(t.queuedAt, start) }}
                  title={`waited ${fmtDuration(start - t.queuedAt)} in the queue`}
                />
              )}
              {start && end !== undefined && (
                <span
                  class={`gantt-bar st-${t.state}`}
                  style={{ left: pct(start), width: width(start, end) }}
                  title={`${t.taskId}: ${t.state}, ran ${fmtDuration(end - start)}${t.try > 1 ? ` (try ${t.try})` : ''}`}
                />
              )}
            </div>
            <span class="gantt-dur small">{start ? fmtDuration((end ?? now) - start) : t.state}</span>
          </div>
        );
      })}
    </div>
  );
}

/** What is wrong with one conf value for its param, in the same words as the API. */
function paramProblem(name: string, spec: ParamSpec, value: unknown): string | undefined {
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (type !== spec.type) return `conf.${name} must be a${spec.type === 'array' || spec.type === 'object' ? 'n' : ''} ${spec.type} (got ${type})`;
  return undefined;
}

function TriggerDialog({ dag, onClose }: { dag: DagDetail; onClose: (runId?: string) => void }) {
  const params = Object.entries(dag.params);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(params.map(([k, p]) => [k, p.type === 'string' ? String(p.default ?? '') : JSON.stringify(p.default)])),
  );
  const [raw, setRaw] = useState<string | undefined>(undefined);
  const [error, setError] = useState<{ message: string; field: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLDialogElement>(null);

  /** The conf as an object, or the first problem with its field. */
  const build = (): { conf: Record<string, unknown> } | { message: string; field: string } => {
    if (raw !== undefined) {
      try {
        const v: unknown = JSON.parse(raw || '{}');
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return { message: 'conf must be a JSON object', field: 'conf' };
        for (const [k, p] of params) {
          const problem = k in v ? paramProblem(k, p, (v as Record<string, unknown>)[k]) : undefined;
          if (problem) return { message: problem, field: `conf.${k}` };
        }
        return { conf: v as Record<string, unknown> };
      } catch (err) {
        return { message: `conf is not valid JSON: ${(err as Error).message}`, field: 'conf' };
      }
    }
    const conf: Record<string, unknown> = {};
    for (const [k, p] of params) {
      const text = values[k] ?? '';
      if (p.type === 'string') conf[k] = text;
      else {
        try {
          conf[k] = JSON.parse(text);
        } catch {
          return { message: `conf.${k} must be a ${p.type} (not valid JSON)`, field: `conf.${k}` };
        }
        const problem = paramProblem(k, p, conf[k]);
        if (problem) return { message: problem, field: `conf.${k}` };
      }
    }
    return { conf };
  };
  // Never rejects: a failed trigger shows its error in the dialog.
  const trigger = async (): Promise<void> => {
    const built = build();
    if (!('conf' in built)) return setError(built);
    setBusy(true);
    try {
      const run = await api.trigger(dag.id, built.conf);
      ref.current?.close();
      onClose(run.runId);
    } catch (err) {
      setError({ message: errorText(err), field: (err as { field?: string }).field ?? '' });
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={(el) => {
        ref.current = el;
        if (el && !el.open) el.showModal();
      }}
      class="modal wide"
      onClose={() => onClose()}
      aria-labelledby="trigger-title"
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void trigger();
        }}
      >
        <h2 id="trigger-title">Trigger {dag.id}</h2>
        {params.length === 0 && raw === undefined && <p class="muted">This DAG takes no params; the run gets an empty conf.</p>}
        {raw === undefined ? (
          <div class="params">
            {params.map(([k, p]) => (
              <label key={k} class={error?.field === `conf.${k}` ? 'invalid' : ''}>
                <span>
                  {k} <small class="muted">{p.type}</small>
                </span>
                {p.type === 'boolean' ? (
                  <input type="checkbox" checked={values[k] === 'true'} onChange={(e) => setValues({ ...values, [k]: String(e.currentTarget.checked) })} />
                ) : p.type === 'object' || p.type === 'array' ? (
                  <textarea rows={3} value={values[k]} onInput={(e) => setValues({ ...values, [k]: e.currentTarget.value })} />
                ) : (
                  <input
                    name={k}
                    type={p.type === 'number' ? 'number' : 'text'}
                    step="any"
                    value={values[k]}
                    onInput={(e) => setValues({ ...values, [k]: e.currentTarget.value })}
                  />
                )}
                {p.description && <small class="muted">{p.description}</small>}
              </label>
            ))}
          </div>
        ) : (
          <label class={error?.field.startsWith('conf') ? 'invalid' : ''}>
            <span>conf (JSON)</span>
            <textarea rows={8} class="mono" value={raw} aria-label="conf JSON" onInput={(e) => setRaw(e.currentTarget.value)} />
          </label>
        )}
        <button
          type="button"
          class="link"
          onClick={() => {
            if (raw === undefined) {
              const built = build();
              setRaw(JSON.stringify('conf' in built ? built.conf : {}, null, 2));
            } else setRaw(undefined);
            setError(undefined);
          }}
        >
          {raw === undefined ? 'Edit as JSON' : 'Edit as form'}
        </button>
        {error && (
          <p class="error" role="alert">
            {error.message}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={() => (ref.current?.close(), onClose())}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Trigger run
          </button>
        </div>
      </form>
    </dialog>
  );
}
