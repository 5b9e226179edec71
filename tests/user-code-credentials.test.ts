import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_CREDENTIALS } from '@aloft/core';
import { ROOT, System, waitFor } from './support/system.js';

// The services' credentials, each a value that user code would have to read from somewhere:
// every one of them starts with MARK, which the tasks look for wherever they read.
const MARK = 'ALOFTSECRET';
const secret = (name: string) =>
  // The secret store's keyring must parse (id:32 bytes in base64), so the mark is its key id.
  name === 'ALOFT_SECRETS_KEYS'
    ? `${MARK}${Math.random().toString(36).slice(2, 10)}:${randomBytes(32).toString('base64')}`
    : `${MARK}${name.replace(/[^A-Z]/g, '')}${Math.random().toString(36).slice(2, 10)}`;
const isRoot = process.getuid?.() === 0;

/**
 * What a DAG author can try from a `fn` task: its own environment, every ancestor's
 * environment and command line (the fn host's, the worker's, the worker's parents'), every
 * process's environment and command line on the machine, the worker's memory and open files,
 * and the credential files. Each route's result is printed (errors too) and returned.
 */
const FN = `
import { openSync, readdirSync, readFileSync, readSync } from 'node:fs';
const MARK = ${JSON.stringify(MARK)};
function ancestors(): number[] {
  const out: number[] = [];
  for (let p = process.ppid; p > 1 && out.length < 20; ) {
    out.push(p);
    const st = readFileSync('/proc/' + p + '/status', 'utf8');
    p = Number(/^PPid:\\s+(\\d+)/m.exec(st)?.[1] ?? 0);
  }
  return out;
}
function attempt(route: string, read: () => string | Buffer): { route: string; found?: string; bytes?: number; error?: string } {
  try {
    const text = read().toString().replace(/\\0/g, '\\n');
    const at = text.indexOf(MARK);
    const r = at >= 0 ? { route, found: text.slice(Math.max(0, at - 40), at + 60) } : { route, bytes: text.length };
    console.log(JSON.stringify(r));
    return r;
  } catch (err) {
    const r = { route, error: (err as NodeJS.ErrnoException).code ?? String(err) };
    console.log(JSON.stringify(r));
    return r;
  }
}
export function snoop(files: string[]) {
  const tries = [attempt('process.env', () => JSON.stringify(process.env)), attempt('/proc/self/environ', () => readFileSync('/proc/self/environ'))];
  const up = ancestors();
  for (const p of up) {
    tries.push(attempt('/proc/' + p + '/environ', () => readFileSync('/proc/' + p + '/environ')));
    tries.push(attempt('/proc/' + p + '/cmdline', () => readFileSync('/proc/' + p + '/cmdline')));
    tries.push(attempt('/proc/' + p + '/fd', () => readdirSync('/proc/' + p + '/fd').join(',')));
    tries.push(attempt('/proc/' + p + '/mem', () => {
      const maps = readFileSync('/proc/' + p + '/maps', 'utf8');
      const fd = openSync('/proc/' + p + '/mem', 'r');
      let all = '';
      for (const line of maps.split('\\n').filter((l) => / rw.p /.test(l)).slice(0, 400)) {
        const [from, to] = line.split(' ')[0]!.split('-').map((h) => parseInt(h, 16));
        const buf = Buffer.alloc(Math.min(to! - from!, 1 << 22));
        try { readSync(fd, buf, 0, buf.length, from!); all += buf.toString('latin1'); } catch {}
        if (all.includes(MARK)) break;
        if (all.length > 1 << 24) all = all.slice(-4096);
      }
      return all;
    }));
  }
  let sweep = '';
  for (const p of readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
    for (const f of ['environ', 'cmdline']) try { sweep += readFileSync('/proc/' + p + '/' + f).toString() + '\\n'; } catch {}
  }
  tries.push(attempt('every /proc/*/environ and cmdline', () => sweep));
  for (const f of files) tries.push(attempt(f, () => readFileSync(f)));
  const worker = up.find((p) => readFileSync('/proc/' + p + '/cmdline', 'utf8').includes('apps/worker/src/main.ts'));
  return { uid: process.getuid?.(), worker, tries };
}
`;

/**
 * The same from a command: $VARS, /proc/$PPID and every ancestor, every process, the files.
 * It greps for GREP, a pattern that MARK matches but the command's own text does not.
 */
const GREP = `'${MARK.slice(0, 5)}[${MARK[5]}]${MARK.slice(6)}'`;
const COMMAND = (files: string[]) =>
  [
    'id -u',
    `env | grep -a ${GREP} || echo "env: clean"`,
    'p=$PPID; while [ "$p" -gt 1 ]; do',
    `  for f in environ cmdline; do if out=$(tr '\\0' '\\n' 2>&1 < /proc/$p/$f); then echo "$out" | grep -a ${GREP} || echo "/proc/$p/$f: clean"; else echo "/proc/$p/$f: $out"; fi; done`,
    `  ls /proc/$p/fd >/dev/null 2>&1 && echo "/proc/$p/fd: listed" || echo "/proc/$p/fd: denied"`,
    `  p=$(awk '/^PPid/{print $2}' /proc/$p/status)`,
    'done',
    `cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -a ${GREP} || echo "every process: clean"`,
    ...files.map((f) => `if out=$(cat ${f} 2>&1); then echo "$out" | grep -a ${GREP} || echo "${f}: clean"; else echo "${f}: $out"; fi`),
  ].join('\n');

function dagFile(files: string[]): string {
  return `import { dag } from '@aloft/core';
import { snoop } from './_snoop.js';
const d = dag({ id: 'snoop' });
d.fn({ id: 'fn_snoop', run: () => snoop(${JSON.stringify(files)}) });
d.command({ id: 'cmd_snoop', command: ${JSON.stringify(COMMAND(files))} });
`;
}

describe.each(['env', 'file'] as const)('user code on a root worker given its credentials through %s', (via) => {
  const dags = join(ROOT, '.test-results', `dags-credentials-${via}-${Math.random().toString(36).slice(2, 7)}`);
  const secrets = Object.fromEntries(SERVICE_CREDENTIALS.map((n) => [n, secret(n)])) as Record<(typeof SERVICE_CREDENTIALS)[number], string>;
  const files: string[] = [];
  const credentialEnv: Record<string, string> = {};
  let sys: System;
  let logs: string[] = [];
  let fnOut: { uid: number; worker: number; tries: { route: string; found?: string; error?: string }[] };

  beforeAll(async () => {
    // Readable by nobody (0755 from the root down), so the worker drops to nobody for both.
    mkdirSync(dags, { recursive: true });
    chmodSync(dags, 0o755);
    for (const name of SERVICE_CREDENTIALS) {
      if (name === 'REDIS_URL') continue;
      if (via === 'env') credentialEnv[name] = secrets[name];
      else {
        const f = join(dags, `.${name.toLowerCase()}`);
        writeFileSync(f, secrets[name], { mode: 0o600 });
        credentialEnv[`${name}_FILE`] = f;
        files.push(f);
      }
    }
    sys = await new System({
      dagsFolder: dags,
      redisPassword: secrets.REDIS_URL,
      redisUrlVia: via,
      env: { ...credentialEnv, ALOFT_USER_CODE_USER: 'nobody' },
    }).start();
    if (sys.redisUrlFile) files.push(sys.redisUrlFile);
    writeFileSync(join(dags, '_snoop.ts'), FN);
    writeFileSync(join(dags, 'snoop.ts'), dagFile(files));
    await sys.spawn('scheduler', 'scheduler');
    await sys.spawn('worker', 'worker-1');
    await waitFor('DAG stored', async () => (await sys.client.listDags()).some((d) => d.dag.id === 'snoop'), 90_000);
    const run = await sys.client.trigger('snoop');
    await sys.client.waitForRun('snoop', run.runId, { timeoutMs: 90_000 });
    for (const t of ['fn_snoop', 'cmd_snoop']) {
      expect((await sys.client.getTaskInstance('snoop', run.runId, t)).state).toBe('success');
      logs.push(...(await sys.client.getLog('snoop', run.runId, t)).map((l) => l.line));
    }
    fnOut = (await sys.client.getOutput('snoop', run.runId, 'fn_snoop')) as typeof fnOut;
    logs.push(JSON.stringify(fnOut));
  }, 180_000);
  afterAll(async () => {
    await sys?.stop();
    rmSync(dags, { recursive: true, force: true });
    logs = [];
  });

  it.skipIf(!isRoot)('runs the fn and the command as nobody, and every route to the worker was tried and refused', () => {
    expect(fnOut.uid).toBe(65534);
    expect(logs).toContain('65534');
    // The worker's environment, memory and open files are closed to nobody.
    const worker = fnOut.worker;
    expect(worker).toBeGreaterThan(1);
    for (const f of ['environ', 'mem', 'fd']) expect(fnOut.tries.find((t) => t.route === `/proc/${worker}/${f}`)?.error).toBe('EACCES');
    expect(logs.some((l) => /^\/proc\/\d+\/environ: .*Permission denied/.test(l))).toBe(true);
    for (const f of files) {
      expect(fnOut.tries.find((t) => t.route === f)?.error).toBe('EACCES');
      expect(logs.some((l) => l.startsWith(`${f}: `) && l.includes('Permission denied'))).toBe(true);
    }
  });

  it.skipIf(!isRoot).each(SERVICE_CREDENTIALS)('never lets a task read %s by any route', (name) => {
    const value = name === 'REDIS_URL' ? secrets.REDIS_URL : secrets[name];
    expect(logs.filter((l) => l.includes(value))).toEqual([]);
    expect(fnOut.tries.filter((t) => t.found)).toEqual([]);
    expect(logs.filter((l) => l.includes(MARK))).toEqual([]);
  });
});
