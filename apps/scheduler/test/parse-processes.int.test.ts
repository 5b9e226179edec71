import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { dagFolders } from './support/dag-folders.js';

/**
 * A parse child ends with everything it started (processes started at import do not outlive
 * the parse), and stays within its memory limit (two files that each load 2 GB at once).
 */
const folders = dagFolders('parse-processes');
const started: number[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pids: number[], timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

afterAll(() => {
  for (const pid of started.filter(alive)) process.kill(pid, 'SIGKILL');
});

describe('processes a DAG file starts at import', () => {
  it('are gone when the parse ends: in its process group, in a new session, holding its output or with a clean env', async () => {
    const f = folders.folder();
    f.write('spawner.ts', [
      "import { spawn } from 'node:child_process';",
      "import { dag } from '@aloft/core';",
      "const group = spawn('sleep', ['600'], { stdio: 'ignore' });",
      "const session = spawn('sleep', ['601'], { stdio: 'ignore', detached: true });",
      "const holder = spawn('sleep', ['602'], { stdio: 'inherit', detached: true, env: {} });",
      'for (const c of [group, session, holder]) c.unref();',
      // The DAG's description carries the pids out (the file may not write where the test reads).
      "dag({ id: 'spawner', description: JSON.stringify([group.pid, session.pid, holder.pid]) }).empty({ id: 't' });",
    ]);

    await f.processor().scan();
    const list = JSON.parse((await f.store.getDag('spawner'))?.dag.description ?? '[]') as number[];
    started.push(...list);
    expect(list).toHaveLength(3);
    expect(await gone(list)).toEqual([]);
  });
});

describe('a scheduler that stops while a file is being parsed', () => {
  it('ends the parse and what the file started, instead of leaving them to run on', async () => {
    const f = folders.folder();
    // A sleep no other process on the machine has, so the test finds this one.
    const seconds = `600.${process.pid}${Date.now() % 1000}`;
    const file = f.write('endless.ts', [
      "import { spawn } from 'node:child_process';",
      `spawn('sleep', ['${seconds}'], { stdio: 'ignore', detached: true });`,
      'for (;;) {}',
    ]);
    const processor = f.processor({ timeoutMs: 60_000 });
    const scan = processor.scan();
    const pids = await waitForParse(file, seconds);
    started.push(...pids);
    processor.stop();
    await scan;
    expect(await gone(pids)).toEqual([]);
    // Nothing is recorded for the file: the next scheduler parses it afresh.
    expect(await f.store.listImportErrors()).toEqual([]);
  });
});

/** The parse child's pid and its sleep's, once the file runs (found in /proc by their command lines). */
async function waitForParse(file: string, seconds: string): Promise<number[]> {
  for (let i = 0; i < 200; i++) {
    const parse = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p).includes(`\u0000${file}\u0000`) && cmdline(p).includes('parse-child'));
    const kids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p) === `sleep\u0000${seconds}\u0000`);
    if (parse.length && kids.length) return [...parse, ...kids].map(Number);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the parse never started');
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

describe('memory a DAG file takes at import', () => {
  it('stops two files that take 2 GB at once, naming the limit and its setting, and loads the next', async () => {
    const f = folders.folder();
    const buffers = f.write('a_buffers.ts', [
      "import { dag } from '@aloft/core';",
      'const keep: Buffer[] = [];',
      'for (let i = 0; i < 2048; i++) keep.push(Buffer.alloc(1 << 20, 1));',
      "dag({ id: 'buffers' }).empty({ id: 't' });",
    ]);
    const heap = f.write('b_heap.ts', [
      "import { dag } from '@aloft/core';",
      'const keep: number[][] = [];',
      'for (let i = 0; i < 2048; i++) keep.push(Array.from({ length: 1 << 17 }, (_, j) => i + j + 0.5));',
      "dag({ id: 'heap' }).empty({ id: 't' });",
    ]);
    f.write('c_small.ts', ["import { dag } from '@aloft/core';", "dag({ id: 'small' }).empty({ id: 't' });"]);

    await f.processor({ memoryMb: 256 }).scan();
    const errors = await f.store.listImportErrors();
    expect(errors.map((e) => e.file)).toEqual([buffers, heap]);
    for (const e of errors)
      expect(e.message).toBe('importing the file took more memory than the parse limit of 256 MB (ALOFT_DAG_PARSE_MEMORY_MB); it was stopped');
    expect(await f.store.listDagIds()).toEqual(['small']);
  });
});
