import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRedis, Store } from '@aloft/core';
import { startRedis, type RedisHandle } from '@aloft/core/testing';
import { DagProcessor } from '../src/dag-processor.js';

/**
 * The DAG folder processor against a real redis-server: a file whose import timed out once
 * (a busy machine) is parsed again without being changed, and then loads.
 */
const ROOT = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const DIR = join(ROOT, '.test-results', `dag-processor-${process.pid}`);

describe('DagProcessor (real redis-server, parse children)', () => {
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  let store: Store;

  beforeAll(async () => {
    mkdirSync(DIR, { recursive: true });
    redis = await startRedis();
    conn = createRedis(redis.url);
    store = new Store(conn, `dp${Math.random().toString(36).slice(2, 7)}`);
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
    rmSync(DIR, { recursive: true, force: true });
  });

  it('parses a file again after its import timed out, and stores its DAG once it loads', async () => {
    // Its first import hangs (it leaves a marker); every later one is quick. The marker's
    // folder is open to all: the import may run as another user (nobody).
    const open = mkdtempSync(join(tmpdir(), 'aloft-marker-'));
    chmodSync(open, 0o777);
    const marker = join(open, 'hung-once');
    const file = join(DIR, 'slow_once.ts');
    writeFileSync(
      file,
      [
        "import { existsSync, writeFileSync } from 'node:fs';",
        "import { dag } from '@aloft/core';",
        `if (!existsSync(${JSON.stringify(marker)})) {`,
        `  writeFileSync(${JSON.stringify(marker)}, '');`,
        '  for (;;);',
        '}',
        "dag({ id: 'slow_once' }).empty({ id: 't' });",
        '',
      ].join('\n'),
    );
    // Long enough for a parse child to start on a busy machine; the retry comes at once.
    const processor = new DagProcessor({
      folder: DIR,
      store,
      logger: createLogger({ name: 'test', level: 'silent' }),
      timeoutMs: 20_000,
      retryMs: 50,
      env: process.env,
    });

    await processor.scan();
    const [timedOut] = await store.listImportErrors();
    expect(timedOut?.message).toBe('importing the file took longer than 20000 ms (ALOFT_DAG_PARSE_TIMEOUT_MS); it was stopped; it is tried again in 0 s');
    expect(await store.getDag('slow_once')).toBeFalsy();

    await new Promise((r) => setTimeout(r, 100));
    expect(await processor.scan()).toBe(1);
    expect(await store.listImportErrors()).toEqual([]);
    expect((await store.getDag('slow_once'))?.dag.tasks.map((t) => t.id)).toEqual(['t']);
    rmSync(open, { recursive: true, force: true });
  });

  it('scanFiles parses the files named and no other, and leaves the DAGs of the others stored', async () => {
    const dir = join(DIR, 'named');
    mkdirSync(dir, { recursive: true });
    const write = (id: string) => writeFileSync(join(dir, `${id}.ts`), `import { dag } from '@aloft/core/dag';\ndag({ id: '${id}' }).empty({ id: 't' });\n`);
    write('named_a');
    write('named_b');
    const s = new Store(conn, `sf${Math.random().toString(36).slice(2, 7)}`);
    const processor = new DagProcessor({ folder: dir, store: s, logger: createLogger({ name: 'test', level: 'silent' }), timeoutMs: 20_000, env: process.env });

    expect(await processor.scanFiles([join(dir, 'named_b.ts')])).toBe(1);
    expect((await s.listDagIds()).sort()).toEqual(['named_b']);
    expect(await processor.scanFiles([join(dir, 'named_a.ts')])).toBe(1);
    expect((await s.listDagIds()).sort()).toEqual(['named_a', 'named_b']);
    expect((await s.getDag('named_b'))?.missing).toBeFalsy();
    // A whole scan parses only what it has not seen unchanged.
    expect(await processor.scan()).toBe(0);
  });
});
