import { fork, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, type Registry } from 'prom-client';
import { isPlainLookup, isTemplate, renderTemplate, templateContext, userCodeEnv, type Logger, type TemplateInfo, type UserCodeIdentity } from '@aloft/core';

import type { TrySecrets } from './try-secrets.js';

const BOOT = fileURLToPath(new URL('./template-process-boot.mjs', import.meta.url));

/** One value to render, and what to call it in an error: `etl.load env.DAY`. */
export interface TemplateField {
  template: string;
  where: string;
}

/** What an executor renders its task's templates with; bound to the task's context. */
export interface TaskTemplates {
  /** Each field rendered, in order; text without `{{` or `{%` comes back as it is. */
  render(fields: readonly TemplateField[]): Promise<string[]>;
}

/** For values rendered already (a runInPod task's own pod): nothing more to render. */
export const NO_TEMPLATES: TaskTemplates = { render: (fields) => Promise.resolve(fields.map((f) => f.template)) };

/** To the template process. */
export interface RenderRequest {
  id: number;
  info: TemplateInfo;
  fields: TemplateField[];
  maxBytes: number;
}

/** From the template process: ready to render; starting field `index`; the values; or why not. */
export type RenderReply =
  { type: 'ready' } | { type: 'at'; id: number; index: number } | { type: 'done'; id: number; out: string[] } | { type: 'failed'; id: number; message: string };

export interface TemplateRendererOptions {
  /** Longest one task's templates may render (ALOFT_TEMPLATE_TIMEOUT_MS). */
  timeoutMs: number;
  /** Most UTF-8 bytes of one rendered value (ALOFT_TEMPLATE_MAX_BYTES). */
  maxBytes: number;
  /** Heap cap of the template process (ALOFT_TEMPLATE_HEAP_MB). */
  heapMb: number;
  logger: Logger;
  /** The worker's environment: the process gets only its PATH, HOME, TMPDIR, LANG and NODE_OPTIONS. */
  env: NodeJS.ProcessEnv;
  registry?: Registry | undefined;
  /**
   * Told of each template process (its own process group) while it lives: the worker's
   * reaper ends it if the worker dies in the middle of a render, which would otherwise
   * go on alone, since the process notices the worker is gone only between renders.
   */
  processes?: { started(pgid: number): void; ended(pgid: number): void } | undefined;
  /** Who the process runs as: the user-code identity, when the worker may use it. */
  identity?: UserCodeIdentity | undefined;
}

/** idle: no process (one starts with the next render); starting; ready; stopped for good. */
export type RendererState = 'idle' | 'starting' | 'ready' | 'stopped';

interface Pending {
  info: TemplateInfo;
  fields: TemplateField[];
  resolve: (out: string[]) => void;
  reject: (err: Error) => void;
  /** The field being rendered, as the process last said. */
  at: number;
}

/**
 * Renders task templates in a long-lived child process, one task's fields at a time, so a
 * template can neither block the worker's event loop nor take its memory. A process, not a
 * worker thread: V8 ends the whole process on some allocations (one string or list past the
 * heap cap at once, an array past its largest size: "Fatal JavaScript invalid size error"),
 * and a thread's resourceLimits do not contain those; tests/fuzz-templates.test.ts has such
 * templates. A render past `timeoutMs` gets the process killed; a process that dies
 * (out of memory, crashed, killed) fails the render it had. Either way the task fails with a
 * reason naming its field and the limit, and the next render starts a new process.
 *
 * Only values that compute go to the process. Text without `{{` or `{%` is used as it is,
 * and a value whose templates are all plain names and paths (`{{ ds }}`, `{{ params.day }}`:
 * no call, filter, operator or tag; isPlainLookup) renders here, in the same sandbox, since
 * it costs what printing its data costs: most tasks never wait for the process. A render
 * waiting behind another waits without its clock running, so a template that takes its
 * full time delays the others but fails none of them.
 */
export class TemplateRenderer {
  /** Renders in the process by outcome, processes started, and values rendered here (plain lookups). */
  readonly stats = { rendered: 0, failed: 0, timedOut: 0, crashed: 0, started: 0, here: 0 };
  #state: RendererState = 'idle';
  #child: ChildProcess | undefined;
  readonly #queue: Pending[] = [];
  #current: { id: number; p: Pending; timer: NodeJS.Timeout } | undefined;
  #nextId = 0;
  /** The process's last words on stderr (V8's fatal errors), to say why it died. */
  #stderr = '';
  readonly #renders: Counter | undefined;

  constructor(private readonly o: TemplateRendererOptions) {
    this.#renders = o.registry
      ? new Counter({
          name: 'aloft_worker_template_renders_total',
          help: 'Task template renders in the template process, by outcome',
          labelNames: ['outcome'],
          registers: [o.registry],
        })
      : undefined;
  }

  get state(): RendererState {
    return this.#state;
  }

  /** The template process's id, while there is one. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the process ahead of the first template. Safe to call twice. */
  start(): void {
    if (this.#state === 'idle') this.#spawn();
  }

  /** Fails what waits and ends the process. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#setState('stopped');
    const err = new Error('the worker is stopping; templates are not rendered any more');
    if (this.#current) {
      clearTimeout(this.#current.timer);
      this.#current.p.reject(err);
      this.#current = undefined;
    }
    for (const p of this.#queue.splice(0)) p.reject(err);
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }

  /**
   * Renders the templates of the task `info` describes; with `secrets`, the connections and
   * variables the fields name (conn.*, var.*) are read first (TrySecrets.forTemplates).
   */
  forTask(info: TemplateInfo, secrets?: Pick<TrySecrets, 'forTemplates'>): TaskTemplates {
    if (!secrets) return { render: (fields) => this.render(info, fields) };
    return {
      render: async (fields) => {
        const s = await secrets.forTemplates(fields.filter((f) => isTemplate(f.template)).map((f) => f.template));
        return this.render(s ? { ...info, secrets: s } : info, fields);
      },
    };
  }

  render(info: TemplateInfo, fields: readonly TemplateField[]): Promise<string[]> {
    const all = fields.map((f) => f.template);
    const todo: number[] = [];
    let ctx: Record<string, unknown> | undefined;
    try {
      for (const [i, f] of fields.entries()) {
        if (!isTemplate(f.template)) continue;
        if (!isPlainLookup(f.template)) {
          todo.push(i);
          continue;
        }
        all[i] = renderTemplate(f.template, (ctx ??= templateContext(info)), f.where, { maxBytes: this.o.maxBytes });
        this.stats.here++;
      }
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (todo.length === 0) return Promise.resolve(all);
    if (this.#state === 'stopped') return Promise.reject(new Error('the worker is stopping; templates are not rendered any more'));
    const sent = todo.map((i) => fields[i]!);
    return new Promise<string[]>((resolve, reject) => {
      this.#queue.push({
        info: onlyWhatIsUsed(info, sent),
        fields: sent,
        at: 0,
        reject,
        resolve: (out) => {
          todo.forEach((i, k) => (all[i] = out[k]!));
          resolve(all);
        },
      });
      this.#pump();
    });
  }

  #setState(s: RendererState): void {
    if (s === this.#state) return;
    this.#state = s;
    this.o.logger.debug({ state: s }, 'template process');
  }

  #spawn(): void {
    this.#setState('starting');
    this.#stderr = '';
    this.stats.started++;
    const child = fork(BOOT, [], {
      execArgv: ['--conditions=aloft-source', `--max-old-space-size=${this.o.heapMb}`],
      // Nothing of the worker's environment (Redis URL, credentials) is the process's to see:
      // user code's allow-list, and NODE_OPTIONS, which says how Node loads the renderer.
      env: userCodeEnv(this.o.env, this.o.env['NODE_OPTIONS'] === undefined ? {} : { NODE_OPTIONS: this.o.env['NODE_OPTIONS'] }, this.o.identity),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      detached: true,
      // Not the worker's own directory, which the user-code identity may not enter (a
      // mkdtemp folder is 0700): the renderer's, which it reads its code from anyway.
      cwd: dirname(BOOT),
      ...(this.o.identity ? { uid: this.o.identity.uid, gid: this.o.identity.gid } : {}),
    });
    this.#child = child;
    const pid = child.pid;
    if (pid !== undefined) {
      this.o.processes?.started(pid);
      child.once('exit', () => this.o.processes?.ended(pid));
    }
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.#stderr = (this.#stderr + s).slice(-4096);
    });
    child.on('message', (m: RenderReply) => this.#onReply(child, m));
    child.on('error', (err) => this.o.logger.warn({ err }, 'template process error'));
    child.once('exit', (code, signal) => this.#onExit(child, code, signal));
  }

  #pump(): void {
    if (this.#current || this.#queue.length === 0 || this.#state === 'stopped') return;
    if (!this.#child) this.#spawn();
    if (this.#state !== 'ready') return;
    const p = this.#queue.shift()!;
    const id = ++this.#nextId;
    // Decided after the I/O of this turn of the event loop: when the worker's own loop was
    // busy past the limit, timers run before the I/O that waited, and the process's answer
    // may be there already (seen under load in tests/fuzz-templates.test.ts).
    const timer = setTimeout(() => setImmediate(() => this.#timedOut(id)), this.o.timeoutMs);
    this.#current = { id, p, timer };
    const req: RenderRequest = { id, info: p.info, fields: p.fields, maxBytes: this.o.maxBytes };
    this.#child!.send(req);
  }

  #onReply(child: ChildProcess, m: RenderReply): void {
    if (child !== this.#child) return;
    if (m.type === 'ready') {
      this.#setState('ready');
      return this.#pump();
    }
    const cur = this.#current;
    if (!cur || cur.id !== m.id) return;
    if (m.type === 'at') {
      cur.p.at = m.index;
      return;
    }
    clearTimeout(cur.timer);
    this.#current = undefined;
    if (m.type === 'done') {
      this.stats.rendered++;
      this.#renders?.inc({ outcome: 'rendered' });
      cur.p.resolve(m.out);
    } else {
      this.stats.failed++;
      this.#renders?.inc({ outcome: 'failed' });
      cur.p.reject(new Error(m.message));
    }
    this.#pump();
  }

  #timedOut(id: number): void {
    const cur = this.#current;
    if (!cur || cur.id !== id) return;
    this.#current = undefined;
    this.stats.timedOut++;
    this.#renders?.inc({ outcome: 'timeout' });
    const where = cur.p.fields[cur.p.at]?.where ?? 'a field';
    this.o.logger.warn({ where, timeoutMs: this.o.timeoutMs }, 'a template ran past its time; killing the template process');
    cur.p.reject(new Error(`template in ${where}: still rendering after ${this.o.timeoutMs} ms, the limit (ALOFT_TEMPLATE_TIMEOUT_MS); it was stopped`));
    this.#kill();
    this.#pump();
  }

  /** Ends the current process; the next render starts another. */
  #kill(): void {
    const child = this.#child;
    this.#child = undefined;
    if (this.#state !== 'stopped') this.#setState('idle');
    child?.kill('SIGKILL');
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child) return;
    const booted = this.#state === 'ready';
    this.#child = undefined;
    if (this.#state === 'stopped') return;
    this.#setState('idle');
    const cur = this.#current;
    this.#current = undefined;
    if (cur) clearTimeout(cur.timer);
    const memory = /heap out of memory|Allocation failed|invalid size error|Invalid array length|Invalid string length/i.test(this.#stderr);
    const fatal = this.#stderr
      .split('\n')
      .find((l) => /FATAL|Fatal|Error/.test(l))
      ?.trim();
    this.o.logger.warn({ code, signal, booted, fatal, where: cur?.p.fields[cur.p.at]?.where }, 'the template process exited');
    if (cur) {
      this.stats.crashed++;
      this.#renders?.inc({ outcome: memory ? 'memory' : 'crashed' });
      const where = cur.p.fields[cur.p.at]?.where ?? 'a field';
      cur.p.reject(
        new Error(
          memory
            ? `template in ${where}: rendering needed more memory than the limit of ${this.o.heapMb} MB (ALOFT_TEMPLATE_HEAP_MB); it was stopped`
            : `template in ${where}: the template process ended while rendering it (${signal ?? `exit code ${code}`})`,
        ),
      );
    }
    if (!booted) {
      // A process that cannot start would fail again at once: what waits fails, and the
      // next render tries again.
      const err = new Error(`the template process could not start (${signal ?? `exit code ${code}`}): ${fatal ?? this.#stderr.trim().slice(-300)}`);
      for (const p of this.#queue.splice(0)) p.reject(err);
      return;
    }
    this.#pump();
  }
}

/**
 * The task's context without the big parts no field names (outputs, args, params, conf): a
 * template reaches a name only by writing it, so they are not copied to the process.
 */
function onlyWhatIsUsed(info: TemplateInfo, fields: readonly TemplateField[]): TemplateInfo {
  const text = fields.map((f) => f.template).join('\n');
  return {
    ...info,
    outputs: /outputs|ti_output/.test(text) ? info.outputs : {},
    args: text.includes('args') ? info.args : {},
    params: text.includes('params') ? info.params : {},
    conf: text.includes('conf') ? info.conf : {},
    secrets: /conn|var/.test(text) ? info.secrets : undefined,
  };
}

/**
 * Renders every string in `parts` (at any depth of lists and objects) in one trip, naming
 * each as `<where> <key>`, `<where> <key>[i]`, `<where> <key>.<k>`: `etl.load env.DAY`.
 * Other values come back as they are.
 */
export async function renderParts<T extends Record<string, unknown>>(templates: TaskTemplates, where: string, parts: T): Promise<T> {
  const fields: TemplateField[] = [];
  const collect = (v: unknown, at: string): void => {
    if (typeof v === 'string') fields.push({ template: v, where: at });
    else if (Array.isArray(v)) v.forEach((x, i) => collect(x, `${at}[${i}]`));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, `${at}.${k}`);
  };
  for (const [k, v] of Object.entries(parts)) collect(v, `${where} ${k}`);
  const out = await templates.render(fields);
  let i = 0;
  const rebuild = (v: unknown): unknown => {
    if (typeof v === 'string') return out[i++];
    if (Array.isArray(v)) return v.map(rebuild);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, rebuild(v)])) as T;
}
