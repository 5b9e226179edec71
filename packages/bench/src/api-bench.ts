/**
 * The dashboard's API under load: the grid and run-list endpoints of a DAG with many runs ×
 * 50 tasks (bench.ts makes them), from concurrent clients over loopback, while the workers run other tasks.
 * And, where Debian's Chromium is installed, how long the DAG page takes to show that grid.
 */
import { existsSync } from 'node:fs';
import { pct } from './stats.js';

export const API_TASKS = 50;

export interface ApiFigures {
  endpoints: { name: string; p50: number; p99: number; reqPerS: number; bytes: number }[];
  /** Navigation → 25 runs × 50 tasks of cells on screen, in Chromium; undefined without it. */
  uiGridMs?: number | undefined;
  /** Grid → graph tab with every node drawn. */
  uiGraphMs?: number | undefined;
}

/** A DAG of 50 no-op fn tasks: five chains of ten, as pipelines tend to look. */
export function apiBenchDag(): string {
  return `import { dag, chain } from '@aloft/core';
const d = dag({ id: 'bench_api', maxActiveRuns: 100000, maxActiveTasks: 1000000 });
for (let c = 0; c < 5; c++) chain(...Array.from({ length: ${API_TASKS / 5} }, (_, i) => d.fn({ id: 'c' + c + '_t' + i, run: () => undefined })));
`;
}

async function signIn(base: string, password: string): Promise<string> {
  const r = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'admin', password, next: '/' }),
  });
  if (r.status !== 303) throw new Error(`bench sign-in failed: ${r.status}`);
  return (r.headers.get('set-cookie') ?? '').split(';')[0]!;
}

/** `total` GETs of `path` from `clients` concurrent loops; latencies in ms. */
async function load(url: string, token: string, total: number, clients: number): Promise<{ lat: number[]; seconds: number; bytes: number }> {
  const lat: number[] = [];
  let left = total;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) {
        const s = performance.now();
        const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        const body = await r.arrayBuffer();
        if (!r.ok) throw new Error(`${url}: ${r.status}`);
        lat.push(performance.now() - s);
        bytes = body.byteLength;
      }
    }),
  );
  return { lat, seconds: (performance.now() - t0) / 1000, bytes };
}

export async function apiBench(opts: {
  base: string;
  password: string;
  requests: number;
  clients: number;
  /** Runs of bench_api made; the grid shows up to 25 of them. */
  runs: number;
  /** Keeps the workers busy while measuring; resolves when told to stop. */
  background: (stop: () => boolean) => Promise<void>;
}): Promise<ApiFigures> {
  const cookie = await signIn(opts.base, opts.password);
  const made = await fetch(`${opts.base}/api/v1/tokens`, {
    method: 'POST',
    headers: { origin: opts.base, cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', role: 'viewer' }),
  });
  const { token } = (await made.json()) as { token: string };

  let stopped = false;
  const busy = opts.background(() => stopped);
  const endpoints: ApiFigures['endpoints'] = [];
  try {
    for (const [name, path] of [
      ['grid (25 runs × 50 tasks)', '/api/v1/dags/bench_api/grid?limit=25'],
      ['grid, page 20', '/api/v1/dags/bench_api/grid?limit=25&offset=500'],
      ['run list (25)', '/api/v1/dags/bench_api/runs?limit=25'],
      ['run list filtered (state=success, 25)', '/api/v1/dags/bench_api/runs?limit=25&state=success&offset=200'],
      ['DAG list', '/api/v1/dags'],
    ] as const) {
      await load(`${opts.base}${path}`, token, 50, opts.clients); // warm
      const r = await load(`${opts.base}${path}`, token, opts.requests, opts.clients);
      endpoints.push({ name, p50: pct(r.lat, 50), p99: pct(r.lat, 99), reqPerS: opts.requests / r.seconds, bytes: r.bytes });
    }
    const ui = existsSync('/usr/bin/chromium') ? await uiTimes(opts.base, cookie, Math.min(25, opts.runs)) : {};
    return { endpoints, ...ui };
  } finally {
    stopped = true;
    await busy;
  }
}

async function uiTimes(base: string, cookie: string, runs: number): Promise<{ uiGridMs: number; uiGraphMs: number }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const [name, value] = cookie.split('=') as [string, string];
    await ctx.addCookies([{ name, value, url: base }]);
    const page = await ctx.newPage();
    const cells = runs * API_TASKS;
    // Once to fill the HTTP cache with the bundle, as a returning user has it.
    await page.goto(`${base}/dags/bench_api`);
    await page
      .locator('a.cell')
      .nth(cells - 1)
      .waitFor({ state: 'attached', timeout: 60_000 });
    const grid: number[] = [];
    const graph: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t0 = performance.now();
      await page.goto(`${base}/dags/bench_api`);
      await page
        .locator('a.cell')
        .nth(cells - 1)
        .waitFor({ state: 'attached', timeout: 60_000 });
      grid.push(performance.now() - t0);
      t0 = performance.now();
      await page.getByRole('tab', { name: 'Graph' }).click();
      await page
        .locator('svg.graph g.node')
        .nth(API_TASKS - 1)
        .waitFor({ state: 'attached', timeout: 60_000 });
      graph.push(performance.now() - t0);
    }
    return { uiGridMs: pct(grid, 50), uiGraphMs: pct(graph, 50) };
  } finally {
    await browser.close();
  }
}
