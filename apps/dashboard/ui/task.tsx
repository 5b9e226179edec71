import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type LogLine, type TaskInstance } from './api.js';
import { dagHref, fmtDuration, fmtTime, Link, StateBadge, tiHref, useCanOperate, useConfirm, useData, useLive } from './lib.js';

const MAX_LINES = 20_000;

/** Follows one try's log over SSE; past lines come first, then new ones as they are written. */
function useLogStream(url: string | undefined): { lines: LogLine[]; ended: string | undefined; connected: boolean } {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [ended, setEnded] = useState<string | undefined>(undefined);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    setLines([]);
    setEnded(undefined);
    if (!url) return;
    let buf: LogLine[] = [];
    let next = 0;
    let es: EventSource | undefined;
    let flush: ReturnType<typeof setTimeout> | undefined;
    const open = () => {
      es = new EventSource(`${url}&from=${next}`);
      es.onopen = () => setConnected(true);
      es.addEventListener('line', (e) => {
        const l = JSON.parse((e as MessageEvent<string>).data) as LogLine;
        if (l.n < next) return;
        next = l.n + 1;
        buf.push(l);
        flush ??= setTimeout(() => {
          flush = undefined;
          const b = buf;
          buf = [];
          setLines((old) => (old.length + b.length > MAX_LINES ? [...old, ...b].slice(-MAX_LINES) : [...old, ...b]));
        }, 100);
      });
      es.addEventListener('end', (e) => {
        setEnded((JSON.parse((e as MessageEvent<string>).data) as { state: string }).state);
        es?.close();
        setConnected(false);
      });
      // EventSource reconnects by itself, but from the start; reopen from the next line instead.
      es.onerror = () => {
        setConnected(false);
        es?.close();
        setTimeout(() => es && open(), 1500);
      };
    };
    open();
    return () => {
      const e = es;
      es = undefined;
      e?.close();
      if (flush) clearTimeout(flush);
    };
  }, [url]);
  return { lines, ended, connected };
}

function Highlight({ text, q }: { text: string; q: string }) {
  if (!q) return <>{text}</>;
  const parts = text.split(q);
  return (
    <>
      {parts.map((p, i) => (
        <>
          {i > 0 && <mark>{q}</mark>}
          {p}
        </>
      ))}
    </>
  );
}

const INSTANCES_PAGE = 100;
/** Most active first, failed before success: the order in which a mapped task's state is summed up. */
const INSTANCE_STATES = ['running', 'queued', 'up_for_retry', 'up_for_reschedule', 'scheduled', 'none', 'failed', 'upstream_failed', 'success', 'skipped'];

/** A mapped task's instances, a page at a time, optionally of one state; each row links to its instance's page. */
function InstanceList({ dagId, runId, taskId, version }: { dagId: string; runId: string; taskId: string; version: number }) {
  const [page, setPage] = useState(0);
  const [state, setState] = useState('');
  const list = useData(
    () => api.instances(dagId, runId, taskId, INSTANCES_PAGE, page * INSTANCES_PAGE, state || undefined),
    [dagId, runId, taskId, page, state, version],
  );
  const d = list.data;
  const pages = d ? Math.max(1, Math.ceil(d.total / INSTANCES_PAGE)) : 1;
  return (
    <div class="instances">
      <h2>Mapped instances</h2>
      <div class="toolbar">
        <label>
          State{' '}
          <select
            value={state}
            aria-label="Instance state"
            onChange={(e) => {
              setState(e.currentTarget.value);
              setPage(0);
            }}
          >
            <option value="">all</option>
            {INSTANCE_STATES.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, ' ')}
                {d?.states[s as keyof typeof d.states] ? ` (${d.states[s as keyof typeof d.states]})` : ''}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
          ← Previous
        </button>
        <span class="muted">
          {d ? (d.total ? `${page * INSTANCES_PAGE + 1}–${Math.min(d.total, (page + 1) * INSTANCES_PAGE)} of ${d.total}` : 'none') : 'loading…'}
        </span>
        <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
          Next →
        </button>
      </div>
      {list.error && <p class="error">{list.error}</p>}
      {d && d.instances.length > 0 && (
        <div class="table-wrap">
          <table class="list" aria-label="Mapped instances">
            <thead>
              <tr>
                <th>Map index</th>
                <th>State</th>
                <th>Try</th>
                <th>Started</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {d.instances.map((i) => (
                <tr key={i.mapIndex} data-map-index={i.mapIndex} data-state={i.state}>
                  <td>
                    <Link href={tiHref(dagId, runId, taskId, i.mapIndex)}>[{i.mapIndex}]</Link>
                  </td>
                  <td>
                    <StateBadge state={i.state} />
                  </td>
                  <td>{i.try}</td>
                  <td>{fmtTime(i.startDate)}</td>
                  <td>{i.startDate ? fmtDuration((i.endDate ?? Date.now()) - i.startDate) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** "2 success, 1 failed": a mapped task's instances by state. */
function countsText(states: Record<string, number | undefined>): string {
  return INSTANCE_STATES.filter((s) => states[s])
    .map((s) => `${states[s]} ${s.replace(/_/g, ' ')}`)
    .join(', ');
}

/**
 * A task instance: its fields, output and live log. A mapped task as a whole (mapIndex −1
 * once expanded) shows its instances instead of a log; `mapIndex` ≥ 0 is one of them.
 */
export function TaskPage({ dagId, runId, taskId, mapIndex }: { dagId: string; runId: string; taskId: string; mapIndex: number }) {
  const ti = useData(() => api.ti(dagId, runId, taskId, mapIndex), [dagId, runId, taskId, mapIndex]);
  const whole = ti.data?.mapped !== undefined;
  // One instance's output, once it is known not to be a mapped task as a whole (each
  // instance's output is on its own page, rather than a list of up to thousands here).
  const single = ti.data !== undefined && !whole;
  const output = useData(() => (single ? api.output(dagId, runId, taskId, mapIndex) : Promise.resolve(undefined)), [dagId, runId, taskId, mapIndex, single]);
  const [version, setVersion] = useState(0);
  const canOperate = useCanOperate();
  const [chosenTry, setChosenTry] = useState<number | undefined>(undefined);
  const [search, setSearch] = useState('');
  const [onlyMatches, setOnlyMatches] = useState(false);
  const [follow, setFollow] = useState(true);
  const logRef = useRef<HTMLDivElement>(null);
  const { ask, dialog } = useConfirm(() => {
    ti.reload();
    setVersion((v) => v + 1);
    setChosenTry(undefined);
  });
  useLive({ dagId, runId, types: 'ti' }, (batch) => {
    // The whole of a mapped task changes with any of its instances (and when it expands or is cleared).
    if (batch.some((e) => e.taskId === taskId && (mapIndex < 0 || e.mapIndex === mapIndex))) {
      ti.reload();
      output.reload();
      setVersion((v) => v + 1);
    }
  });
  const t = ti.data;
  const latest = t ? Math.max(t.try, 1) : undefined;
  const shownTry = chosenTry ?? latest;
  const { lines, ended, connected } = useLogStream(t && !whole && shownTry ? api.logStreamUrl(dagId, runId, taskId, shownTry, mapIndex) : undefined);
  const name = mapIndex >= 0 ? `${taskId} [${mapIndex}]` : t?.mapped ? `${taskId} [${t.mapped.n}]` : taskId;
  const what = mapIndex >= 0 ? `instance ${mapIndex} of ${taskId}` : t?.mapped ? `all ${t.mapped.n} instances of ${taskId}` : taskId;
  const shown = useMemo(() => (search && onlyMatches ? lines.filter((l) => l.line.includes(search)) : lines), [lines, search, onlyMatches]);
  const matches = useMemo(() => (search ? lines.filter((l) => l.line.includes(search)).length : 0), [lines, search]);
  useEffect(() => {
    const el = logRef.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [shown.length, follow]);

  return (
    <section>
      <nav class="crumbs">
        <Link href="/">DAGs</Link> / <Link href={dagHref(dagId)}>{dagId}</Link> / <Link href={dagHref(dagId, { run: runId })}>{runId}</Link> /{' '}
        {mapIndex >= 0 ? (
          <>
            <Link href={tiHref(dagId, runId, taskId)}>{taskId}</Link> / <span>[{mapIndex}]</span>
          </>
        ) : (
          <span>{taskId}</span>
        )}
      </nav>
      <div class="page-head">
        <h1>
          {name} {t && <StateBadge state={t.state} />}
        </h1>
        {t && canOperate && (
          <div class="head-actions">
            {/* A mapped task is cleared as a whole (it expands again), so not from one instance's page. */}
            {mapIndex < 0 && (
              <button
                type="button"
                onClick={() => {
                  let downstream = false;
                  ask({
                    title: `Clear ${taskId}?`,
                    body: (
                      <>
                        <p>{t.mapped ? `The task expands again and all its instances run as a new try.` : 'The task runs again as a new try.'}</p>
                        <label>
                          <input type="checkbox" onChange={(e) => (downstream = e.currentTarget.checked)} /> also clear everything downstream
                        </label>
                      </>
                    ),
                    confirm: 'Clear',
                    run: () => api.clear(dagId, runId, taskId, downstream),
                  });
                }}
              >
                Clear
              </button>
            )}
            <button
              type="button"
              onClick={() => ask({ title: `Mark ${what} success?`, confirm: 'Mark success', run: () => api.mark(dagId, runId, taskId, 'success', mapIndex) })}
            >
              Mark success
            </button>
            <button
              type="button"
              class="danger"
              onClick={() =>
                ask({ title: `Mark ${what} failed?`, confirm: 'Mark failed', danger: true, run: () => api.mark(dagId, runId, taskId, 'failed', mapIndex) })
              }
            >
              Mark failed
            </button>
          </div>
        )}
      </div>
      {ti.error && <p class="error">{ti.error}</p>}
      {t?.mapped && <MappedWhole t={t} />}
      {t?.mapped && <InstanceList dagId={dagId} runId={runId} taskId={taskId} version={version} />}
      {t && !t.mapped && (
        <div class="ti-body">
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <StateBadge state={t.state} />
            </dd>
            {mapIndex >= 0 && (
              <>
                <dt>Map index</dt>
                <dd>{mapIndex}</dd>
              </>
            )}
            <dt>Try</dt>
            <dd>
              {t.try}
              {t.maxTries ? ` of ${t.maxTries}` : ''}
            </dd>
            <dt>Queue</dt>
            <dd>{t.queue ?? '—'}</dd>
            <dt>Queued</dt>
            <dd>{fmtTime(t.queuedAt)}</dd>
            <dt>Started</dt>
            <dd>{fmtTime(t.startDate)}</dd>
            <dt>Ended</dt>
            <dd>{fmtTime(t.endDate)}</dd>
            <dt>Duration</dt>
            <dd>{t.startDate ? fmtDuration((t.endDate ?? Date.now()) - t.startDate) : '—'}</dd>
            <dt>Worker</dt>
            <dd class="mono">{t.worker ? `${t.worker}${t.hostname ? ` on ${t.hostname}` : ''}` : '—'}</dd>
            {t.pod && (
              <>
                <dt>Pod</dt>
                <dd class="mono">{t.pod}</dd>
              </>
            )}
            <dt>Exit code</dt>
            <dd>{t.exitCode ?? '—'}</dd>
            {t.nextTryAt && t.state === 'up_for_retry' && (
              <>
                <dt>Next try</dt>
                <dd>{fmtTime(t.nextTryAt)}</dd>
              </>
            )}
            {t.nextPokeAt && t.state === 'up_for_reschedule' && (
              <>
                <dt>Next poke</dt>
                <dd>{fmtTime(t.nextPokeAt)}</dd>
              </>
            )}
            {t.pokes !== undefined && (
              <>
                <dt>Pokes</dt>
                <dd>
                  {t.pokes}
                  {t.firstPokeAt ? `, the first at ${fmtTime(t.firstPokeAt)}` : ''}
                </dd>
              </>
            )}
            {t.reason && (
              <>
                <dt>Reason</dt>
                <dd class="reason">{t.reason}</dd>
              </>
            )}
            {t.detail && (
              <>
                <dt>Now</dt>
                <dd>{t.detail}</dd>
              </>
            )}
          </dl>
          <div class="output">
            <h2>Output</h2>
            {output.data === undefined || output.data === null ? <p class="muted">none</p> : <pre class="mono">{JSON.stringify(output.data, null, 2)}</pre>}
          </div>
        </div>
      )}
      {!whole && (
        <>
          <h2>Log</h2>
          <div class="toolbar log-tools">
            {latest && latest > 1 && (
              <label>
                Try{' '}
                <select value={shownTry} onChange={(e) => setChosenTry(Number(e.currentTarget.value))} aria-label="Try">
                  {Array.from({ length: latest }, (_, i) => latest - i).map((n) => (
                    <option key={n} value={n}>
                      {n}
                    </option>
                  ))}
                </select>
              </label>
            )}
            <input type="search" placeholder="Search the log" value={search} onInput={(e) => setSearch(e.currentTarget.value)} aria-label="Search the log" />
            {search && <span class="muted">{matches} matching</span>}
            <label>
              <input type="checkbox" checked={onlyMatches} onChange={(e) => setOnlyMatches(e.currentTarget.checked)} /> only matching lines
            </label>
            <label>
              <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> follow
            </label>
            <span class="muted small" data-log-status>
              {ended ? `try ended: ${ended}` : connected ? 'live' : 'connecting…'} · {lines.length} lines
            </span>
          </div>
          <div class="log" ref={logRef} role="log" aria-label="Task log">
            {shown.length === 0 && <span class="muted">{ended ? 'No log lines.' : 'Waiting for log lines…'}</span>}
            {shown.map((l) => (
              <div key={l.n} class={`ln ${l.stream}`}>
                <span class="ln-n">{l.n + 1}</span>
                <span class="ln-t">{new Date(l.at).toISOString().slice(11, 23)}</span>
                <span class="ln-x">
                  <Highlight text={l.line} q={search} />
                </span>
              </div>
            ))}
          </div>
        </>
      )}
      {dialog}
    </section>
  );
}

/** A mapped task as a whole: its summed-up state, and its instances counted by state. */
function MappedWhole({ t }: { t: TaskInstance }) {
  const m = t.mapped!;
  return (
    <dl class="facts">
      <dt>State</dt>
      <dd>
        <StateBadge state={t.state} /> <span class="muted small">summed up over its instances</span>
      </dd>
      <dt>Instances</dt>
      <dd data-mapped-counts>
        {m.n}: {countsText(m.states)}
      </dd>
      <dt>Expanded</dt>
      <dd>{fmtTime(t.startDate)}</dd>
      {t.reason && (
        <>
          <dt>Reason</dt>
          <dd class="reason">{t.reason}</dd>
        </>
      )}
    </dl>
  );
}
