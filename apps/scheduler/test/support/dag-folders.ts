import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createLogger, createRedis, Store } from '@aloft/core';
import { startRedis, type RedisHandle } from '@aloft/core/testing';
import { DagProcessor, type DagProcessorOptions } from '../../src/dag-processor.js';

export const ROOT = new URL('../../../..', import.meta.url).pathname.replace(/\/$/, '');

export interface DagFolder {
  dir: string;
  /** Its own key prefix, so folders of one test file do not see each other's DAGs. */
  store: Store;
  /** Writes a DAG file (lines joined) and returns its path. */
  write(name: string, lines: string[]): string;
  processor(o?: Partial<DagProcessorOptions>): DagProcessor;
}

/**
 * DAG folders for DagProcessor tests, each with its own key prefix in one real redis-server
 * per test file. The folders sit under the repository, where DAG files resolve @aloft/core.
 */
export function dagFolders(label: string): { folder(): DagFolder } {
  const root = join(ROOT, '.test-results', `${label}-${process.pid}`);
  let redis: RedisHandle;
  let conn: ReturnType<typeof createRedis>;
  beforeAll(async () => {
    mkdirSync(root, { recursive: true });
    redis = await startRedis();
    conn = createRedis(redis.url);
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  });
  let n = 0;
  return {
    folder() {
      const dir = join(root, `f${++n}`);
      mkdirSync(dir, { recursive: true });
      const store = new Store(conn, `${label}${n}${Math.random().toString(36).slice(2, 7)}`);
      return {
        dir,
        store,
        write(name, lines) {
          const file = join(dir, name);
          writeFileSync(file, `${lines.join('\n')}\n`);
          return file;
        },
        processor(o = {}) {
          return new DagProcessor({ folder: dir, store, logger: createLogger({ name: 'test', level: 'silent' }), timeoutMs: 20_000, env: process.env, ...o });
        },
      };
    },
  };
}
