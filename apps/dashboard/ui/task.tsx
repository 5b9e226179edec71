import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type LogLine } from './api.js';
import { dagHref, fmtDuration, fmtTime, Link, StateBadge, useCanOperate, useConfirm, useData, useLive } from './lib.js';

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

export function TaskPage({ dagId, runId, taskId }: { dagId: string; runId: string; taskId: string }) {
  const ti = useData(() => api.ti(dagId, runId, taskId), [dagId, runId, taskId]);
  const output = useData(() => api.output(dagId, runId, taskId), [dagId, runId, taskId]);
  const canOperate = useCanOperate();
  const [chosenTry, setChosenTry] = useState<number | undefined>(undefined);
  const [search, setSearch] = useState('');
  const [onlyMatches, setOnlyMatches] = useState(false);
  const [follow, setFollow] = useState(true);
  const logRef = useRef<HTMLDivElement>(null);
  const { ask, dialog } = useConfirm(() => {
    ti.reload();
    setChosenTry(undefined);
  });
  useLive({ dagId, runId, types: 'ti' }, (batch) => {
    if (batch.some((e) => e.taskId === taskId)) {
      ti.reload();
      output.reload();
    }
  });
  const t = ti.data;
  const latest = t ? Math.max(t.try, 1) : undefined;
  const shownTry = chosenTry ?? latest;
  const { lines, ended, connected } = useLogStream(t && shownTry ? api.logStreamUrl(dagId, runId, taskId, shownTry) : undefined);
  const shown = useMemo(() => (search && onlyMatches ? lines.filter((l) => l.line.includes(search)) : lines), [lines, search, onlyMatches]);
  const matches = useMemo(() => (search ? lines.filter((l) => l.line.includes(search)).length : 0), [lines, search]);
  useEffect(() => {
    const el = logRef.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [shown.length, follow]);

  return (
    <section>
      <nav class="crumbs">
        <Link href="/">DAGs</Link> / <Link href={dagHref(dagId)}>{dagId}</Link> / <Link href={dagHref(dagId, { run: runId })}>{runId}</Link> / <span>{taskId}</span>
      </nav>
      <div class="page-head">
        <h1>
          {taskId} {t && <StateBadge state={t.state} />}
        </h1>
        {t && canOperate && (
          <div class="head-actions">
            <button
              type="button"
              onClick={() => {
                let downstream = false;
                ask({
                  title: `Clear ${taskId}?`,
                  body: (
                    <>
                      <p>The task runs again as a new try.</p>
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
            <button type="button" onClick={() => ask({ title: `Mark ${taskId} success?`, confirm: 'Mark success', run: () => api.mark(dagId, runId, taskId, 'success') })}>
              Mark success
            </button>
            <button type="button" class="danger" onClick={() => ask({ title: `Mark ${taskId} failed?`, confirm: 'Mark failed', danger: true, run: () => api.mark(dagId, runId, taskId, 'failed') })}>
              Mark failed
            </button>
          </div>
        )}
      </div>
      {ti.error && <p class="error">{ti.error}</p>}
      {t && (
        <div class="ti-body">
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <StateBadge state={t.state} />
            </dd>
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
                <dd>{t.pokes}{t.firstPokeAt ? `, the first at ${fmtTime(t.firstPokeAt)}` : ''}</dd>
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
      {dialog}
    </section>
  );
}
