import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, type TemplateInfo } from '@aloft/core';
import { TemplateRenderer } from '../src/template-renderer.js';

const info: TemplateInfo = {
  dagId: 'etl',
  runId: 'manual__1',
  taskId: 'load',
  mapIndex: -1,
  tryNumber: 1,
  args: {},
  logicalDate: new Date('2026-03-28T23:00:00Z'),
  dataIntervalStart: new Date('2026-03-28T23:00:00Z'),
  dataIntervalEnd: new Date('2026-03-29T23:00:00Z'),
  timezone: 'UTC',
  params: { limit: 10 },
  conf: {},
  outputs: { extract: { rows: 42 } },
};
const logger = createLogger({ name: 'test', level: 'silent' });
const renderers: TemplateRenderer[] = [];
const renderer = (o: Partial<ConstructorParameters<typeof TemplateRenderer>[0]> = {}) => {
  const r = new TemplateRenderer({ timeoutMs: 5000, maxBytes: 1 << 20, heapMb: 64, logger, env: process.env, ...o });
  renderers.push(r);
  return r;
};
afterAll(async () => {
  await Promise.all(renderers.map((r) => r.stop()));
});

const SPIN = '{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}{% endfor %}{% endfor %}{% endfor %}';
// 10 × 2^25 characters, made as a rope, then flattened into a list of one string each: far
// past a 64 MB heap in one allocation, which ends a process (a worker thread's limits do not
// catch it).
const HOG = '{% set s = "xxxxxxxxxx" %}{% for i in range(25) %}{% set s = s ~ s %}{% endfor %}{{ s | list | length }}';

describe('the template renderer (a child process)', () => {
  it('renders a task’s fields in one trip and leaves text without templates alone, without a process', async () => {
    const r = renderer();
    expect(await r.render(info, [{ template: 'echo hi', where: 'x' }])).toEqual(['echo hi']);
    // Plain names and paths render in the worker, in the same sandbox.
    expect(await r.render(info, [{ template: 'echo {{ ds }} {{ params.limit }}', where: 'x' }])).toEqual(['echo 2026-03-28 10']);
    await expect(r.render(info, [{ template: '{{ constructor }}', where: 'etl.load command' }])).rejects.toThrow(
      /^template in etl\.load command: "constructor" cannot be used/,
    );
    expect(r.stats).toMatchObject({ started: 0, here: 1 });
    const out = await r.render(info, [
      { template: 'echo {{ ds }}', where: 'etl.load command' },
      { template: 'plain', where: 'etl.load env.A' },
      { template: '{{ ti_output("extract").rows + params.limit }}', where: 'etl.load env.B' },
    ]);
    expect(out).toEqual(['echo 2026-03-28', 'plain', '52']);
    expect(r.stats).toMatchObject({ started: 1, rendered: 1 });
  });

  it('fails a render past its time naming the field it was in, and renders the next in a new process', async () => {
    const r = renderer({ timeoutMs: 2000 });
    r.start();
    const slow = r.render(info, [
      { template: '{{ ds | upper }}', where: 'etl.load command' },
      { template: SPIN, where: 'etl.load env.SPIN' },
    ]);
    // Queued behind the slow one: its clock starts when its own render does.
    const next = r.render(info, [{ template: '{{ dag_id | lower }}', where: 'etl.load env.NEXT' }]);
    await expect(slow).rejects.toThrow('template in etl.load env.SPIN: still rendering after 2000 ms, the limit (ALOFT_TEMPLATE_TIMEOUT_MS); it was stopped');
    expect(await next).toEqual(['etl']);
    expect(r.stats).toMatchObject({ timedOut: 1, started: 2, rendered: 1 });
  });

  it('fails a render that takes more memory than the process has, and renders the next', async () => {
    const r = renderer({ timeoutMs: 30_000, heapMb: 64 });
    await expect(r.render(info, [{ template: HOG, where: 'etl.load env.HOG' }])).rejects.toThrow(
      'template in etl.load env.HOG: rendering needed more memory than the limit of 64 MB (ALOFT_TEMPLATE_HEAP_MB); it was stopped',
    );
    expect(await r.render(info, [{ template: '{{ task_id | lower }}', where: 'x' }])).toEqual(['load']);
    expect(r.stats).toMatchObject({ crashed: 1, started: 2 });
  });

  it('refuses a rendered value past maxBytes', async () => {
    const r = renderer({ maxBytes: 100 });
    await expect(r.render(info, [{ template: '{% for i in range(20) %}0123456789{% endfor %}', where: 'etl.load command' }])).rejects.toThrow(
      'template in etl.load command: rendered to 200 bytes, over the limit of 100 bytes (ALOFT_TEMPLATE_MAX_BYTES)',
    );
  });

  it('gives the process none of the worker’s environment (no Redis URL, no credentials)', async () => {
    process.env['ALOFT_TEST_SECRET'] = 'hunter2';
    try {
      const r = renderer();
      r.start();
      await r.render(info, [{ template: '{{ ds | string }}', where: 'x' }]);
      const environ = readFileSync(`/proc/${r.pid}/environ`, 'utf8').split('\0');
      expect(environ.some((e) => e.startsWith('ALOFT_TEST_SECRET='))).toBe(false);
      expect(environ.some((e) => e.startsWith('PATH='))).toBe(true);
    } finally {
      delete process.env['ALOFT_TEST_SECRET'];
    }
  });

  it('fails what waits when stopped, and stops twice safely', async () => {
    const r = renderer({ timeoutMs: 10_000 });
    const waiting = r.render(info, [{ template: SPIN, where: 'x' }]).catch((err: unknown) => err);
    await r.stop();
    await r.stop();
    expect(String(await waiting)).toMatch(/the worker is stopping/);
    await expect(r.render(info, [{ template: '{{ ds | string }}', where: 'x' }])).rejects.toThrow(/the worker is stopping/);
    expect(r.state).toBe('stopped');
  });
});
