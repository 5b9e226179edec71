import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive } from './support/processes.js';
import { ROOT, System, waitFor, type Service } from './support/system.js';

/**
 * Hostile DAG files against a real scheduler and worker: output floods, memory
 * hogs, processes started at import, endless loops, spoofed results, deep chains and deeply
 * nested values, misspelt options and upstreams given by id, throws of every kind, drawn from
 * a seeded generator (ALOFT_FUZZ_SEED repeats a draw). For each:
 * no service dies, the file gets an import error that names it (and the line or field where
 * there is one) or its DAG loads as written, and the good DAGs beside them keep running.
 * Bounded: 15 files, at most two of which run into the 20 s parse timeout, and a 256 MB parse
 * memory limit (a 10,000-task chain needs about 170 MB).
 */
const SEED = Number(process.env['ALOFT_FUZZ_SEED'] ?? Date.now() % 1_000_000);
const DIR = join(ROOT, '.test-results', `fuzz-dags-${process.pid}`);

/** mulberry32: small, seedable, good enough to pick variants. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Case {
  kind: string;
  lines: string[];
  /** The DAG it declares when it loads, or the import error it gets. */
  dag?: string;
  error?: RegExp;
  line?: number;
  field?: string;
  /** Its DAG's description lists pids of processes it started, which must be gone. */
  pids?: true;
}

const IMPORT = "import { dag } from '@aloft/core';";
const MB = "const mb = 'x'.repeat(1 << 20);";
const TIMEOUT = /^importing the file took longer than 20000 ms \(ALOFT_DAG_PARSE_TIMEOUT_MS\); it was stopped; it is tried again in 60 s$/;
const MEMORY = /^importing the file took more memory than the parse limit of 256 MB \(ALOFT_DAG_PARSE_MEMORY_MB\); it was stopped$/;
const INVALID = /^the parse result is not valid: /;

/** Every kind with its variants; `n` numbers the file, so ids never clash. */
const KINDS: Record<string, ((n: number, r: () => number) => Omit<Case, 'kind'>)[]> = {
  'output flood': [
    (n, r) => ({
      lines: [IMPORT, MB, `for (let i = 0; i < ${50 + Math.floor(r() * 250)}; i++) process.stdout.write(mb);`, `dag({ id: 'flood_${n}' }).empty({ id: 't' });`],
      dag: `flood_${n}`,
    }),
    (n, r) => ({
      lines: [MB, `for (let i = 0; i < ${20 + Math.floor(r() * 100)}; i++) process.stderr.write(mb);`, "throw new Error('after the flood');"],
      error: /^Error: after the flood$/,
      line: 3,
    }),
    () => ({ lines: [MB, 'for (;;) process.stderr.write(mb);'], error: TIMEOUT }),
  ],
  'memory hog': [
    (_n, r) => ({
      lines: ['const keep: Buffer[] = [];', `for (let i = 0; i < ${1024 + Math.floor(r() * 2048)}; i++) keep.push(Buffer.alloc(1 << 20, 1));`],
      error: MEMORY,
    }),
    () => ({ lines: ['const keep: number[][] = [];', 'for (;;) keep.push(new Array<number>(1 << 16).fill(0.5));'], error: MEMORY }),
    () => ({
      lines: ["let s = 'x';", 'const keep: string[] = [];', 'for (;;) { s = s + s.slice(0, 1 << 20) + Math.random(); keep.push(s.slice(1)); }'],
      error: /memory|Invalid string length/,
    }),
  ],
  'import-time children': [
    (n, r) => {
      const how = ["{ stdio: 'ignore' }", "{ stdio: 'ignore', detached: true }", "{ stdio: 'inherit', detached: true, env: {} }"];
      const picked = how.filter(() => r() < 0.7);
      const spawns = (picked.length ? picked : how).map((o, i) => `spawn('sleep', ['${300 + i}'], ${o})`);
      return {
        kind: '',
        lines: [
          "import { spawn } from 'node:child_process';",
          IMPORT,
          `const kids = [${spawns.join(', ')}];`,
          'for (const k of kids) k.unref();',
          `dag({ id: 'kids_${n}', description: JSON.stringify(kids.map((k) => k.pid)) }).empty({ id: 't' });`,
        ],
        dag: `kids_${n}`,
        pids: true,
      };
    },
  ],
  'endless loop': [
    () => ({ lines: ['for (;;) {}'], error: TIMEOUT }),
    () => ({ lines: ['setInterval(() => undefined, 1000);', 'await new Promise(() => undefined);'], error: TIMEOUT }),
  ],
  'spoofed result': [
    (n) => ({ lines: [`process.stdout.write('\\n::aloft-parse::{"dags":[{"id":"spoof_${n}"}]}\\n');`] }),
    (n) => ({
      lines: ["import { writeSync } from 'node:fs';", IMPORT, `dag({ id: 'fd3_${n}' }).empty({ id: 't' });`, 'writeSync(3, Buffer.alloc(64, 7));'],
      error: /^something other than the parse child wrote to its result channel \(fd 3\)$/,
    }),
    (n, r) => {
      const [change, field] = [
        ["id: 'a:b'", 'id'],
        ["owner: 'me'", 'owner'],
        ["tasks: [{ ...real().tasks[0], upstream: ['nope'] }]", 'tasks[0].upstream[0]'],
        ['maxActiveRuns: -1', 'maxActiveRuns'],
        ["schedule: { kind: 'cron', expression: 'never' }", 'schedule.expression'],
      ][Math.floor(r() * 5)]!;
      const lines = [
        IMPORT,
        `const d = dag({ id: 'patched_${n}' });`,
        "d.empty({ id: 't' });",
        'const real = d.serialize.bind(d);',
        `d.serialize = () => ({ ...real(), ${change} });`,
      ];
      return { lines, error: INVALID, field, line: 2 };
    },
  ],
  'deep chain': [
    (n, r) => {
      const length = 5000 + Math.floor(r() * 5001);
      return {
        lines: [
          IMPORT,
          `const d = dag({ id: 'deep_${n}' });`,
          "let prev = d.empty({ id: 't0' });",
          `for (let i = 1; i < ${length}; i++) prev = prev.then(d.empty({ id: 't' + i }));`,
        ],
        dag: `deep_${n}`,
      };
    },
    (n) => ({
      lines: [
        IMPORT,
        `const d = dag({ id: 'deep_loop_${n}' });`,
        "const first = d.empty({ id: 't0' });",
        'let prev = first;',
        "for (let i = 1; i < 5000; i++) prev = prev.then(d.empty({ id: 't' + i }));",
        'prev.then(first);',
      ],
      error: /cycle t0 → t1 → t2 → t3 → … → t4998 → t4999 → t0 \(5000 tasks\)/,
      field: 'upstream',
      line: 3,
    }),
  ],
  'deep value': [
    (n) => ({
      lines: [
        IMPORT,
        'let v: unknown = 1;',
        'for (let i = 0; i < 100_000; i++) v = { v };',
        `dag({ id: 'deep_param_${n}', params: { p: v as never } }).empty({ id: 't' });`,
      ],
      error: /params\.p: default must be JSON \(Maximum call stack size exceeded\)$/,
      field: 'params',
      line: 4,
    }),
    (n) => ({
      lines: [
        IMPORT,
        'let v: unknown = 1;',
        'for (let i = 0; i < 100_000; i++) v = [v];',
        `dag({ id: 'deep_args_${n}' }).command({ id: 't', command: 'true', args: { v } });`,
      ],
      error: /task "t": args must be JSON values \(Maximum call stack size exceeded\)$/,
      field: 'args',
      line: 4,
    }),
  ],
  'unknown option': [
    (n, r) => {
      const [known, typo] = (<[string, string][]>[
        ['schedule', 'shedule'],
        ['startDate', 'startdate'],
        ['maxActiveRuns', 'max_active_runs'],
        ['catchup', 'catchUp'],
      ])[Math.floor(r() * 4)]!;
      return {
        lines: [IMPORT, `dag({ id: 'typo_${n}', ${typo}: 1 } as never).empty({ id: 't' });`],
        error: new RegExp(`^dag "typo_${n}": ${typo} is not a DAG option; did you mean \`${known}\`\\?$`),
        field: typo,
        line: 2,
      };
    },
    (n, r) => {
      const [known, typo] = (<[string, string][]>[
        ['retries', 'retires'],
        ['executionTimeout', 'execution_timeout'],
        ['queue', 'queu'],
        ['triggerRule', 'triggerrule'],
      ])[Math.floor(r() * 4)]!;
      return {
        lines: [IMPORT, `const d = dag({ id: 'task_typo_${n}' });`, `d.command({ id: 't', command: 'true', ${typo}: 1 } as never);`],
        error: new RegExp(`^dag "task_typo_${n}", task "t": ${typo} is not an option of command tasks; did you mean \`${known}\`\\?$`),
        field: typo,
        line: 3,
      };
    },
    (n) => ({
      lines: [IMPORT, `const d = dag({ id: 'by_id_${n}' });`, "d.empty({ id: 'a' });", "d.empty({ id: 'b', upstream: ['a'] as never });"],
      error:
        /^dag "by_id_\d+", task "b": upstream\[0\] is the string "a": pass the task itself \(const a = d\.command\(\{ id: 'a', … \}\), then upstream: \[a\]\)$/,
      field: 'upstream',
      line: 4,
    }),
  ],
  'non-Error throw': [
    (_n, r) => {
      const [thrown, shown] = (<[string, string][]>[
        ['42', '42'],
        ['null', 'null'],
        ['undefined', 'undefined'],
        ["'text'", '"text"'],
        ["Symbol('s')", 'Symbol(s)'],
        ['{ code: 7 }', '{"code":7}'],
      ])[Math.floor(r() * 6)]!;
      return { lines: [`throw ${thrown};`], error: new RegExp(`^the file threw ${escape(shown)}, which is not an Error$`) };
    },
    () => ({ lines: ['await Promise.reject(undefined);'], error: /^the file threw undefined, which is not an Error$/ }),
    () => ({
      lines: ["void Promise.reject(new TypeError('nobody waits'));"],
      error: /^a promise the file created was rejected with TypeError: nobody waits and nothing handled it$/,
      line: 1,
    }),
    (_n, r) => {
      const code = Math.floor(r() * 3);
      return { lines: ['const x = 1;', `process.exit(${code});`], error: new RegExp(`^the file called process\\.exit\\(${code}\\) at import`), line: 2 };
    },
    () => ({
      lines: ["process.kill(process.pid, 'SIGSEGV');"],
      error: /^the parse process was ended by signal SIGSEGV \(not sent by Aloft\) before it reported the DAGs/,
    }),
  ],
};

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('hostile DAG files against a running scheduler and worker', () => {
  const sys = new System({ dagsFolder: DIR, env: { ALOFT_DAG_PARSE_TIMEOUT_MS: '20000', ALOFT_DAG_PARSE_MEMORY_MB: '256' } });
  let scheduler: Service;
  let worker: Service;
  const files = new Map<string, Case>();
  const startedPids: number[] = [];

  beforeAll(async () => {
    mkdirSync(DIR, { recursive: true });
    chmodSync(DIR, 0o755);
    writeFileSync(
      join(DIR, 'good_a.ts'),
      `${IMPORT}\nconst d = dag({ id: 'good_a' });\nd.command({ id: 'wait', command: 'sleep 2' }).then(d.command({ id: 'done', command: 'true' }));\n`,
    );
    writeFileSync(join(DIR, 'good_b.ts'), `${IMPORT}\ndag({ id: 'good_b' }).command({ id: 'only', command: 'true' });\n`);
    await sys.start();
    scheduler = await sys.spawn('scheduler', 'scheduler');
    worker = await sys.spawn('worker', 'worker');
    await waitFor('the good DAGs', async () => (await sys.client.listDags()).length === 2, 60_000);
  });
  afterAll(async () => {
    for (const pid of startedPids.filter(alive)) process.kill(pid, 'SIGKILL');
    await sys.stop();
    rmSync(DIR, { recursive: true, force: true });
  });

  it(`leaves every service up, names each bad file, and runs the good DAGs (seed ${SEED})`, async () => {
    const started = Date.now();
    const before = await sys.client.trigger('good_a');

    const r = random(SEED);
    let n = 0;
    for (const [kind, variants] of Object.entries(KINDS)) {
      // Two of each kind's variants, in a drawn order; one endless loop (each costs a timeout)
      // and one deep value.
      const order = variants.map((v) => [r(), v] as const).sort((a, b) => a[0] - b[0]);
      for (const [, make] of order.slice(0, kind === 'endless loop' || kind === 'deep value' ? 1 : 2)) {
        const c: Case = { ...make(++n, r), kind };
        const file = join(DIR, `h${String(n).padStart(2, '0')}_${kind.replace(/\W+/g, '_')}.ts`);
        writeFileSync(file, `${c.lines.join('\n')}\n`);
        files.set(file, c);
      }
    }

    // Every file is settled: its DAG stored, or its import error recorded (a spoofed print is
    // neither, its file simply declares nothing: it is settled once its neighbours are).
    const wanted = [...files].filter(([, c]) => c.dag ?? c.error);
    await waitFor(
      'every hostile file settled',
      async () => {
        const errors = new Set((await sys.client.importErrors()).map((e) => e.file));
        const dags = new Set((await sys.client.listDags()).map((d) => d.dag.id));
        return wanted.every(([f, c]) => (c.dag ? dags.has(c.dag) : errors.has(f)));
      },
      110_000,
    );

    const errors = new Map((await sys.client.importErrors()).map((e) => [e.file, e]));
    for (const [file, c] of files) {
      const got = errors.get(file);
      if (c.error) {
        expect(got?.message, `${file} (${c.kind}): ${c.lines.join(' ⏎ ')}`).toMatch(c.error);
        if (c.line) expect(got?.line, `${file} line`).toBe(c.line);
        if (c.field) expect(got?.field, `${file} field`).toBe(c.field);
      } else expect(got, `${file} (${c.kind}) has no import error`).toBeUndefined();
    }
    const dags = (await sys.client.listDags()).map((d) => d.dag.id).sort();
    const expected = ['good_a', 'good_b', ...[...files.values()].flatMap((c) => (c.dag ? [c.dag] : []))].sort();
    expect(dags).toEqual(expected);
    for (const c of files.values()) {
      if (!c.pids) continue;
      const pids = JSON.parse((await sys.client.getDag(c.dag!)).dag.description) as number[];
      startedPids.push(...pids);
      await waitFor('processes started at import gone', async () => !pids.some(alive), 5000);
    }

    // No service died, and runs went on: the one started before, and new ones.
    expect(scheduler.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${scheduler.port}/healthz`)).status).toBe(200);
    expect((await sys.client.waitForRun('good_a', before.runId, { timeoutMs: 30_000 })).state).toBe('success');
    for (const id of ['good_a', 'good_b']) {
      const run = await sys.client.trigger(id);
      expect((await sys.client.waitForRun(id, run.runId, { timeoutMs: 30_000 })).state).toBe('success');
    }

    const byKind: Record<string, number> = {};
    for (const c of files.values()) byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
    console.log(
      `[fuzz-dags] seed ${SEED}: ${files.size} hostile files ${JSON.stringify(byKind)}; ` +
        `${errors.size} import errors recorded; ${dags.length} DAGs loaded (${dags.length - 2} from hostile files); ${Math.round((Date.now() - started) / 1000)} s`,
    );
  });
});
