import type { DagRun, Store } from '@aloft/core';

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const COLORS: Record<string, string> = {
  success: '#2e7d32',
  failed: '#c62828',
  running: '#1565c0',
  queued: '#9e9e9e',
};

function runDot(r: DagRun): string {
  return `<span title="${esc(r.runId)}: ${esc(r.state)}" style="display:inline-block;width:12px;height:12px;border-radius:50%;margin-right:3px;background:${COLORS[r.state] ?? '#999'}"></span>`;
}

function describe(schedule: unknown): string {
  if (!schedule) return 'manual';
  const s = schedule as { kind: string; expression?: string; everyMs?: number };
  return s.kind === 'cron' ? s.expression! : `every ${Math.round((s.everyMs ?? 0) / 1000)} s`;
}

/** A plain server-rendered overview; the full UI is built on the REST API. */
export async function renderHome(store: Store): Promise<string> {
  const [dags, errors] = await Promise.all([store.listDags(), store.listImportErrors()]);
  const rows: string[] = [];
  for (const rec of dags) {
    const runs = await store.listRuns(rec.dag.id, { limit: 10 });
    rows.push(
      `<tr><td>${esc(rec.dag.id)}${rec.missing ? ' <em>(file gone)</em>' : ''}</td><td>${esc(rec.dag.tags.join(', '))}</td>` +
        `<td><code>${esc(describe(rec.dag.schedule))}</code></td><td>${rec.paused ? 'paused' : 'active'}</td>` +
        `<td>${runs.reverse().map(runDot).join('')}</td></tr>`,
    );
  }
  const errorList = errors.length
    ? `<section class="errors"><h2>Import errors</h2><ul>${errors
        .map((e) => `<li><code>${esc(e.file)}${e.line ? `:${e.line}` : ''}</code> ${esc(e.message)}</li>`)
        .join('')}</ul></section>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Aloft</title><meta http-equiv="refresh" content="5">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{padding:.4rem .6rem;border-bottom:1px solid #ddd;text-align:left}.errors{background:#fdecea;padding:.5rem 1rem;border-radius:6px}</style>
</head><body><h1>Aloft</h1><p><a href="/queues">Queues (bull-board)</a></p>${errorList}
<table><thead><tr><th>DAG</th><th>Tags</th><th>Schedule</th><th>State</th><th>Last runs</th></tr></thead><tbody>${rows.join('')}</tbody></table>
</body></html>`;
}
