/**
 * A Kubernetes API emulator for tests: a real HTTP server that the unmodified
 * @kubernetes/client-node talks to as if it were a cluster. It keeps pods in memory and runs
 * their containers' commands as local processes, with the behaviours a pod executor must
 * handle scripted by annotation (`emulator.aloft.dev/behaviour`) or image name
 * (`emulator/<behaviour>`): image-pull-failure, oom, unschedulable, slow-start:<ms>,
 * crashloop, evicted, evicted-once (only a try's first pod: annotation `aloft.dev/pod-generation`
 * absent or 1). Faults on demand: dropped watch and log connections, compacted
 * history (410 Gone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** When it arrived (ms since the epoch) and the status it got. */
  at: number;
  status?: number;
  /** The pod a create was for. */
  name?: string;
}

/** Answers a fraction of the matching requests with an error instead of serving them. */
export interface Faults {
  /** 0..1 */
  rate: number;
  status: 429 | 500 | 503;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  /** Only requests whose method and path match, e.g. /^POST .*\/pods$/. Default: all but watches and logs. */
  match?: RegExp;
}

interface LogLine {
  ts: string;
  key: bigint;
  text: string;
}

interface ContainerRun {
  name: string;
  lines: LogLine[];
  /** Open follow requests, with whether each wants timestamps. */
  followers: Map<ServerResponse, boolean>;
  started: boolean;
  ended: boolean;
  proc?: ChildProcess | undefined;
  termFile?: string | undefined;
  killedFor?: { reason: string; exitCode: number } | undefined;
}

interface PodState {
  obj: Obj;
  containers: Map<string, ContainerRun>;
  timers: NodeJS.Timeout[];
  deleting: boolean;
  dir: string;
}

interface Watcher {
  ns: string;
  selector: (labels: Record<string, string>) => boolean;
  res: ServerResponse;
}

const TOKEN = 'emulator-token';

/**
 * What the emulated images contain, so a command behaves as it would in a cluster: the
 * interpreters an image has run from this machine (python/python3 → python3, node → this
 * Node), and one it lacks fails to start as kubelet reports it. Images not listed here
 * are treated as having every interpreter.
 */
const INTERPRETERS = ['python', 'python3', 'node', 'ruby', 'perl', 'java'];
const IMAGE_HAS: [RegExp, string[]][] = [
  [/^(docker\.io\/)?(library\/)?python(:|$)/, ['python', 'python3']],
  [/^(docker\.io\/)?(library\/)?node(:|$)/, ['node']],
  [/^(docker\.io\/)?(library\/)?(ubuntu|debian|busybox|alpine)(:|$)/, []],
];

function imageLacks(image: string, argv0: string): boolean {
  const bin = argv0.split('/').pop() ?? argv0;
  if (!INTERPRETERS.includes(bin)) return false;
  const profile = IMAGE_HAS.find(([re]) => re.test(image));
  return profile !== undefined && !profile[1].includes(bin);
}

/** The local program that stands in for an image's interpreter. */
function localProgram(argv0: string): string {
  const bin = argv0.split('/').pop() ?? argv0;
  if (bin === 'python' || bin === 'python3') return 'python3';
  if (bin === 'node') return process.execPath;
  return argv0;
}
const BEHAVIOUR = 'emulator.aloft.dev/behaviour';
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface Emulator {
  readonly url: string;
  /** Every request served, in order. */
  readonly requests: RecordedRequest[];
  kubeConfig(): string;
  writeKubeconfig(path: string): void;
  addSecret(namespace: string, name: string, data: Record<string, string>): void;
  addConfigMap(namespace: string, name: string, data: Record<string, string>): void;
  getPod(namespace: string, name: string): Obj | undefined;
  podNames(namespace: string): string[];
  /** Ends every open watch connection abruptly. */
  dropWatches(): void;
  /** Ends every open follow-log connection abruptly. */
  dropLogStreams(): void;
  /** Makes a namespace exist (default and kube-system always do). */
  addNamespace(name: string): void;
  /** Errors (429/5xx) for a fraction of requests; `undefined` turns them off. */
  setFaults(f: Faults | undefined): void;
  /** A ResourceQuota on pods: creates beyond `pods` live pods answer 403 exceeded quota. */
  setPodQuota(namespace: string, pods: number | undefined): void;
  /** Watch connections open now, and the most ever open at once, per namespace. */
  watchCounts(): Record<string, { open: number; max: number }>;
  /** When each pod reached each phase (ms), for latency figures. */
  phaseTimes(namespace: string, name: string): Record<string, number>;
  /** Forgets the event history: a watch resuming from any version seen so far gets 410 Gone. */
  compactHistory(): void;
  stop(): Promise<void>;
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function parseSelector(sel: string | undefined): (labels: Record<string, string>) => boolean {
  const terms = (sel ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return (labels) =>
    terms.every((t) => {
      let m = /^([^!=]+)!=(.*)$/.exec(t);
      if (m) return labels[m[1]!.trim()] !== m[2]!.trim();
      m = /^([^!=]+)==?(.*)$/.exec(t);
      if (m) return labels[m[1]!.trim()] === m[2]!.trim();
      if (t.startsWith('!')) return !(t.slice(1) in labels);
      return t in labels;
    });
}

/** Strictly increasing wall-clock nanoseconds, with their RFC3339Nano form. */
class Clock {
  #last = 0n;
  now(): { key: bigint; ts: string } {
    let key = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    if (key <= this.#last) key = this.#last + 1n;
    this.#last = key;
    const ms = Number(key / 1_000_000n);
    const nanos = (key % 1_000_000_000n).toString().padStart(9, '0');
    return { key, ts: `${new Date(ms).toISOString().slice(0, 19)}.${nanos}Z` };
  }
}

function timeKey(ts: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return 0n;
  const secs = BigInt(Date.parse(`${m[1]}Z`) / 1000);
  return secs * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9));
}

const QUANTITY = /^([+-]?[0-9.]+)([eE][+-]?[0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** What the API server would reject in a pod's labels and container resources. */
function podProblems(body: Obj): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries((body['metadata']?.labels ?? {}) as Record<string, unknown>)) {
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
      out.push(
        `metadata.labels: Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (label ${k})`,
      );
  }
  const containers = [...((body['spec']?.initContainers ?? []) as Obj[]), ...((body['spec']?.containers ?? []) as Obj[])];
  containers.forEach((c, i) => {
    for (const kind of ['requests', 'limits']) {
      for (const [r, q] of Object.entries((c?.['resources']?.[kind] ?? {}) as Record<string, unknown>)) {
        if (typeof q !== 'string' || !QUANTITY.test(q))
          out.push(
            `spec.containers[${i}].resources.${kind}[${r}]: Invalid value: ${JSON.stringify(q)}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
          );
      }
    }
  });
  return out;
}

/**
 * `keepRecords`: how many requests and events to remember (default all, for tests); a
 * long-running stand-in (the quick start's) keeps the newest only.
 */
export async function startEmulator(
  opts: {
    namespaces?: string[];
    keepRecords?: number;
    /** Who runs the pods' commands (the quick start's stand-in: not the services' user). */
    runAs?: { uid: number; gid: number } | undefined;
  } = {},
): Promise<Emulator> {
  const keep = opts.keepRecords ?? Infinity;
  const trim = (a: unknown[]) => {
    if (a.length > keep) a.splice(0, a.length - keep);
  };
  const namespaces = new Set(['default', 'kube-system', ...(opts.namespaces ?? [])]);
  const pods = new Map<string, PodState>();
  const secrets = new Map<string, Record<string, string>>();
  const configMaps = new Map<string, Record<string, string>>();
  const history: { rv: number; ns: string; type: string; obj: Obj }[] = [];
  const watchers = new Set<Watcher>();
  const events: Obj[] = [];
  let eventSeq = 0;
  const requests: RecordedRequest[] = [];
  const clock = new Clock();
  let rv = 1;
  let oldest = 1;
  let stopped = false;
  let faults: Faults | undefined;
  const quotas = new Map<string, number>();
  const watchMax = new Map<string, number>();
  const phases = new Map<string, Record<string, number>>();

  const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const key = (ns: string, name: string) => `${ns}/${name}`;

  function publish(ns: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Obj): void {
    obj['metadata']['resourceVersion'] = String(++rv);
    const times = phases.get(key(ns, obj['metadata'].name)) ?? {};
    times[obj['status']?.phase ?? 'Pending'] ??= Date.now();
    if (type === 'DELETED') times['Deleted'] = Date.now();
    phases.set(key(ns, obj['metadata'].name), times);
    const snap = structuredClone(obj);
    history.push({ rv, ns, type, obj: snap });
    if (history.length > 20_000) oldest = history.splice(0, 10_000).at(-1)!.rv + 1;
    for (const w of watchers) {
      if (w.ns === ns && w.selector(snap['metadata']['labels'] ?? {})) w.res.write(`${JSON.stringify({ type, object: snap })}\n`);
    }
  }

  function event(p: PodState, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const md = p.obj['metadata'];
    const at = nowIso();
    events.push({
      kind: 'Event',
      apiVersion: 'v1',
      metadata: { name: `${md.name}.${(++eventSeq).toString(16)}`, namespace: md.namespace },
      involvedObject: { kind: 'Pod', name: md.name, namespace: md.namespace, uid: md.uid, apiVersion: 'v1' },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: reason === 'FailedScheduling' || reason === 'Scheduled' ? 'default-scheduler' : 'kubelet' },
    });
    trim(events);
  }

  const later = (p: PodState, ms: number, fn: () => void) => {
    p.timers.push(
      setTimeout(() => {
        if (!stopped && pods.get(key(p.obj['metadata'].namespace, p.obj['metadata'].name)) === p && !p.deleting) fn();
      }, ms),
    );
  };

  function containerStatus(p: PodState, name: string): Obj {
    return (p.obj['status'].containerStatuses as Obj[]).find((c) => c.name === name)!;
  }

  function setWaiting(p: PodState, reason: string, message?: string): void {
    for (const c of p.obj['status'].containerStatuses as Obj[]) {
      if (!c.state.running && !c.state.terminated) c.state = { waiting: { reason, ...(message ? { message } : {}) } };
    }
  }

  function resolveEnv(p: PodState, c: Obj): { env: Record<string, string> } | { error: string } {
    const ns = p.obj['metadata'].namespace;
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir() };
    for (const from of (c['envFrom'] ?? []) as Obj[]) {
      const ref = from['secretRef'] ?? from['configMapRef'];
      const store = from['secretRef'] ? secrets : configMaps;
      const data = store.get(key(ns, ref.name));
      if (!data) return { error: `${from['secretRef'] ? 'secret' : 'configmap'} "${ref.name}" not found` };
      Object.assign(env, data);
    }
    for (const e of (c['env'] ?? []) as Obj[]) {
      if (e['value'] !== undefined) env[e['name']] = String(e['value']);
      const vf = e['valueFrom'];
      const ref = vf?.secretKeyRef ?? vf?.configMapKeyRef;
      if (!ref) continue;
      const kind = vf.secretKeyRef ? 'Secret' : 'ConfigMap';
      const data = (vf.secretKeyRef ? secrets : configMaps).get(key(ns, ref.name));
      if (!data) return { error: `${kind === 'Secret' ? 'secret' : 'configmap'} "${ref.name}" not found` };
      if (!(ref.key in data)) return { error: `couldn't find key ${ref.key} in ${kind} ${ns}/${ref.name}` };
      env[e['name']] = data[ref.key]!;
    }
    return { env };
  }

  function addLine(run: ContainerRun, text: string): void {
    const { key: k, ts } = clock.now();
    const line = { ts, key: k, text };
    run.lines.push(line);
    for (const [f, withTs] of run.followers) f.write(`${withTs ? `${ts} ` : ''}${text}\n`);
  }

  function endLogs(run: ContainerRun): void {
    run.ended = true;
    for (const f of run.followers.keys()) f.end();
    run.followers.clear();
  }

  /** Runs one container's command; resolves with its exit code and termination message. */
  function runContainer(
    p: PodState,
    spec: Obj,
    run: ContainerRun,
    env: Record<string, string>,
  ): Promise<{ code: number; message: string; startError?: boolean }> {
    run.termFile = join(p.dir, `${run.name}.termination-log`);
    const argv = [...((spec['command'] ?? []) as string[]), ...((spec['args'] ?? []) as string[])].map((a) =>
      a.replaceAll('/dev/termination-log', run.termFile!),
    );
    run.started = true;
    if (argv.length === 0) {
      // An image's default entrypoint: nothing to run here; it ends at once.
      return new Promise((res) => later(p, 50, () => res({ code: 0, message: '' })));
    }
    if (imageLacks(spec['image'] as string, argv[0]!)) {
      const message = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${argv[0]}": executable file not found in $PATH: unknown`;
      return Promise.resolve({ code: 128, message, startError: true });
    }
    return new Promise((res) => {
      const proc = spawn(localProgram(argv[0]!), argv.slice(1), { env, cwd: p.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(opts.runAs ?? {}) });
      run.proc = proc;
      for (const stream of [proc.stdout, proc.stderr]) {
        let rest = '';
        stream.on('data', (chunk: Buffer) => {
          const parts = (rest + chunk.toString('utf8')).split('\n');
          rest = parts.pop() ?? '';
          for (const l of parts) addLine(run, l);
        });
        stream.on('end', () => rest && addLine(run, rest));
      }
      proc.on('error', (err) => {
        addLine(run, `exec failed: ${err.message}`);
      });
      proc.on('close', (code, signal) => {
        run.proc = undefined;
        let message = '';
        try {
          message = readFileSync(run.termFile!, 'utf8').slice(0, 4096);
        } catch {
          // No termination message.
        }
        res({ code: code ?? (signal === 'SIGKILL' ? 137 : 143), message });
      });
    });
  }

  function terminate(p: PodState, name: string, code: number, reason: string, message: string, startedAt: string): void {
    const cs = containerStatus(p, name);
    cs.state = { terminated: { exitCode: code, reason, ...(message ? { message } : {}), startedAt, finishedAt: nowIso(), containerID: cs.containerID } };
    cs.ready = false;
    cs.started = false;
  }

  function finishPod(p: PodState): void {
    const st = p.obj['status'];
    if (st.phase === 'Failed' || st.phase === 'Succeeded') return;
    const all = st.containerStatuses as Obj[];
    if (!all.every((c) => c.state.terminated)) return;
    st.phase = all.every((c) => c.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    st.conditions = (st.conditions as Obj[]).map((c) =>
      c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'PodCompleted' } : c,
    );
    publish(p.obj['metadata'].namespace, 'MODIFIED', p.obj);
  }

  function killAll(p: PodState, signal: NodeJS.Signals): void {
    for (const run of p.containers.values()) {
      if (run.proc?.pid) {
        try {
          process.kill(-run.proc.pid, signal);
        } catch {
          // Already gone.
        }
      }
    }
  }

  async function startContainers(p: PodState, behaviour: string): Promise<void> {
    const ns = p.obj['metadata'].namespace;
    const spec = p.obj['spec'];
    const st = p.obj['status'];
    const envs = new Map<string, Record<string, string>>();
    for (const c of [...((spec.initContainers ?? []) as Obj[]), ...(spec.containers as Obj[])]) {
      const r = resolveEnv(p, c);
      if ('error' in r) {
        setWaiting(p, 'CreateContainerConfigError', r.error);
        event(p, 'Warning', 'Failed', `Error: ${r.error}`);
        publish(ns, 'MODIFIED', p.obj);
        return;
      }
      envs.set(c.name, r.env);
    }
    for (const c of (spec.initContainers ?? []) as Obj[]) {
      const run: ContainerRun = { name: c.name, lines: [], followers: new Map(), started: false, ended: false };
      p.containers.set(c.name, run);
      const { code } = await runContainer(p, c, run, envs.get(c.name)!);
      endLogs(run);
      if (code !== 0) {
        st.phase = 'Failed';
        st.reason = 'Init:Error';
        publish(ns, 'MODIFIED', p.obj);
        return;
      }
    }
    const startedAt = nowIso();
    st.phase = 'Running';
    st.startTime = startedAt;
    for (const c of spec.containers as Obj[]) {
      const cs = containerStatus(p, c.name);
      cs.state = { running: { startedAt } };
      cs.ready = true;
      cs.started = true;
      cs.containerID = `emulator://${p.obj['metadata'].uid}/${c.name}`;
      event(p, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`);
      event(p, 'Normal', 'Created', `Created container ${c.name}`);
      event(p, 'Normal', 'Started', `Started container ${c.name}`);
    }
    st.conditions = [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: startedAt },
      { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: startedAt },
      { type: 'Ready', status: 'True', lastTransitionTime: startedAt },
    ];
    const runs = (spec.containers as Obj[]).map((c) => {
      const run: ContainerRun = { name: c.name, lines: [], followers: new Map(), started: false, ended: false };
      p.containers.set(c.name, run);
      return { c, run };
    });
    publish(ns, 'MODIFIED', p.obj);

    const main = runs[0]!;
    if (behaviour === 'oom') {
      later(p, 200, () => {
        main.run.killedFor = { reason: 'OOMKilled', exitCode: 137 };
        if (main.run.proc?.pid) process.kill(-main.run.proc.pid, 'SIGKILL');
        else {
          terminate(p, main.c.name, 137, 'OOMKilled', '', startedAt);
          endLogs(main.run);
          publish(ns, 'MODIFIED', p.obj);
          finishPod(p);
        }
        event(p, 'Warning', 'OOMKilling', `Memory cgroup out of memory: Killed process in container ${main.c.name}`);
      });
    }
    // The node or the deadline ends the whole pod: every container is killed.
    const failPod = (reason: string, message: string, eventType: 'Normal' | 'Warning') => {
      if (st.phase !== 'Running') return;
      Object.assign(st, { phase: 'Failed', reason, message });
      event(p, eventType, reason, message);
      for (const r of runs) r.run.killedFor = { reason: 'Error', exitCode: 137 };
      killAll(p, 'SIGKILL');
      publish(ns, 'MODIFIED', p.obj);
    };
    const firstPod = (p.obj['metadata'].annotations?.['aloft.dev/pod-generation'] ?? '1') === '1';
    if (behaviour === 'evicted' || (behaviour === 'evicted-once' && firstPod))
      later(p, 200, () => failPod('Evicted', 'The node was low on resource: memory.', 'Warning'));
    const deadline = spec.activeDeadlineSeconds as number | undefined;
    if (deadline !== undefined) {
      later(p, deadline * 1000, () => failPod('DeadlineExceeded', 'Pod was active on the node longer than the specified deadline', 'Normal'));
    }
    for (const { c, run } of runs) {
      const crash = behaviour === 'crashloop' && run === main.run;
      const once = async (): Promise<void> => {
        const cmd = crash
          ? { ...c, command: ['sh', '-c', 'echo crashing; exit 1'], args: [] }
          : behaviour === 'oom' && run === main.run && !c.command
            ? { ...c, command: ['sleep', '10'] }
            : c;
        const { code, message, startError } = await runContainer(p, cmd, run, envs.get(c.name)!);
        if (p.deleting || stopped) return;
        if (crash) {
          const cs = containerStatus(p, c.name);
          cs.restartCount = (cs.restartCount ?? 0) + 1;
          cs.lastState = { terminated: { exitCode: code, reason: 'Error', startedAt, finishedAt: nowIso() } };
          cs.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${c.name} pod=${p.obj['metadata'].name}` } };
          event(p, 'Warning', 'BackOff', 'Back-off restarting failed container');
          publish(ns, 'MODIFIED', p.obj);
          later(p, 150, () => void once());
          return;
        }
        const killed = run.killedFor;
        if (st.phase === 'Failed' && (st.reason === 'Evicted' || st.reason === 'DeadlineExceeded')) {
          terminate(p, c.name, killed?.exitCode ?? code, 'Error', '', startedAt);
        } else if (startError) {
          terminate(p, c.name, code, 'StartError', message, startedAt);
          event(p, 'Warning', 'Failed', `Error: ${message}`);
        } else terminate(p, c.name, killed?.exitCode ?? code, killed?.reason ?? (code === 0 ? 'Completed' : 'Error'), message, startedAt);
        endLogs(run);
        publish(ns, 'MODIFIED', p.obj);
        finishPod(p);
      };
      void once();
    }
  }

  function lifecycle(p: PodState): void {
    const ns = p.obj['metadata'].namespace;
    const spec = p.obj['spec'];
    const st = p.obj['status'];
    const main = spec.containers[0] as Obj;
    const fromImage = /^emulator\/([a-z-]+(?::\d+)?)/.exec(main.image)?.[1];
    const behaviour = (p.obj['metadata'].annotations?.[BEHAVIOUR] as string | undefined) ?? fromImage ?? '';
    later(p, 20, () => {
      if (behaviour === 'unschedulable') {
        const message = '0/3 nodes are available: 3 Insufficient cpu.';
        st.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: nowIso() }];
        event(p, 'Warning', 'FailedScheduling', message);
        publish(ns, 'MODIFIED', p.obj);
        return;
      }
      st.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: nowIso() }];
      st.hostIP = '10.0.0.10';
      st.podIP = `10.1.0.${(rv % 250) + 2}`;
      setWaiting(p, 'ContainerCreating');
      event(p, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${p.obj['metadata'].name} to emulator-node-1`);
      publish(ns, 'MODIFIED', p.obj);
      const slow = /^slow-start:(\d+)$/.exec(behaviour);
      later(p, 20 + (slow ? Number(slow[1]) : 0), () => {
        const images = [...((spec.initContainers ?? []) as Obj[]), ...(spec.containers as Obj[])].map((c) => c.image as string);
        const invalid = images.find((i) => /[A-Z\s]/.test(i) || i === '');
        if (invalid !== undefined) {
          setWaiting(
            p,
            'InvalidImageName',
            `Failed to apply default image tag "${invalid}": couldn't parse image reference "${invalid}": invalid reference format`,
          );
          event(p, 'Warning', 'InspectFailed', `Failed to apply default image tag "${invalid}"`);
          publish(ns, 'MODIFIED', p.obj);
          return;
        }
        const missing = behaviour === 'image-pull-failure' ? main.image : images.find((i) => i.startsWith('does-not-exist'));
        if (missing) {
          event(p, 'Normal', 'Pulling', `Pulling image "${missing}"`);
          const msg = `rpc error: code = NotFound desc = failed to pull and unpack image "${missing}": not found`;
          setWaiting(p, 'ErrImagePull', msg);
          event(p, 'Warning', 'Failed', `Failed to pull image "${missing}": ${msg}`);
          publish(ns, 'MODIFIED', p.obj);
          later(p, 200, () => {
            for (const c of st.containerStatuses as Obj[])
              c.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${missing}"` } };
            event(p, 'Normal', 'BackOff', `Back-off pulling image "${missing}"`);
            publish(ns, 'MODIFIED', p.obj);
          });
          return;
        }
        void startContainers(p, behaviour);
      });
    });
  }

  function createPod(ns: string, body: Obj, res: ServerResponse): void {
    const name = body?.metadata?.name;
    const containers = body?.spec?.containers as Obj[] | undefined;
    const problems: string[] = [];
    if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name))
      problems.push(
        `metadata.name: Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      );
    if (!Array.isArray(containers) || containers.length === 0) problems.push('spec.containers: Required value');
    for (const [i, c] of (containers ?? []).entries()) {
      if (!c?.name) problems.push(`spec.containers[${i}].name: Required value`);
      if (!c?.image) problems.push(`spec.containers[${i}].image: Required value`);
    }
    problems.push(...podProblems(body ?? {}));
    if (problems.length) return status(res, 422, 'Invalid', `Pod "${name ?? ''}" is invalid: ${problems.join(', ')}`);
    if (pods.has(key(ns, name))) return status(res, 409, 'AlreadyExists', `pods "${name}" already exists`);
    const quota = quotas.get(ns);
    const used = [...pods.values()].filter((p) => p.obj['metadata'].namespace === ns && !['Succeeded', 'Failed'].includes(p.obj['status'].phase)).length;
    if (quota !== undefined && used >= quota) {
      return status(
        res,
        403,
        'Forbidden',
        `pods "${name}" is forbidden: exceeded quota: pod-count, requested: pods=1, used: pods=${used}, limited: pods=${quota}`,
      );
    }
    const obj: Obj = structuredClone(body);
    obj['apiVersion'] = 'v1';
    obj['kind'] = 'Pod';
    obj['metadata'] = { ...obj['metadata'], namespace: ns, uid: crypto.randomUUID(), creationTimestamp: nowIso(), labels: obj['metadata'].labels ?? {} };
    obj['spec'] = { restartPolicy: 'Always', ...obj['spec'], nodeName: undefined };
    obj['status'] = {
      phase: 'Pending',
      qosClass: 'BestEffort',
      containerStatuses: (containers ?? []).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: '',
        ready: false,
        restartCount: 0,
        started: false,
        state: { waiting: { reason: 'Pending' } },
      })),
      ...(obj['spec'].initContainers?.length
        ? {
            initContainerStatuses: (obj['spec'].initContainers as Obj[]).map((c) => ({
              name: c.name,
              image: c.image,
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'PodInitializing' } },
            })),
          }
        : {}),
    };
    const p: PodState = { obj, containers: new Map(), timers: [], deleting: false, dir: mkdtempSync(join(tmpdir(), 'k8s-emu-')) };
    if (opts.runAs) chownSync(p.dir, opts.runAs.uid, opts.runAs.gid);
    pods.set(key(ns, name), p);
    publish(ns, 'ADDED', obj);
    json(res, 201, obj);
    lifecycle(p);
  }

  function removePod(p: PodState): void {
    const md = p.obj['metadata'];
    if (pods.get(key(md.namespace, md.name)) !== p) return;
    pods.delete(key(md.namespace, md.name));
    for (const t of p.timers) clearTimeout(t);
    for (const run of p.containers.values()) endLogs(run);
    publish(md.namespace, 'DELETED', p.obj);
    rmSync(p.dir, { recursive: true, force: true });
  }

  function deletePod(p: PodState, graceSeconds: number | undefined, res: ServerResponse): void {
    const grace = graceSeconds ?? (p.obj['spec'].terminationGracePeriodSeconds as number | undefined) ?? 30;
    if (!p.deleting) {
      p.deleting = true;
      p.obj['metadata'].deletionTimestamp = nowIso();
      p.obj['metadata'].deletionGracePeriodSeconds = grace;
      publish(p.obj['metadata'].namespace, 'MODIFIED', p.obj);
      event(p, 'Normal', 'Killing', 'Stopping container');
      const running = [...p.containers.values()].filter((r) => r.proc);
      if (running.length === 0) setTimeout(() => removePod(p), 10);
      else {
        killAll(p, 'SIGTERM');
        const hard = setTimeout(() => killAll(p, 'SIGKILL'), grace * 1000);
        void Promise.all(running.map((r) => new Promise((ok) => (r.proc ? r.proc.once('close', ok) : ok(undefined))))).then(() => {
          clearTimeout(hard);
          const startedAt = p.obj['status'].startTime ?? nowIso();
          for (const r of running) {
            const cs = containerStatus(p, r.name);
            if (cs && !cs.state.terminated) terminate(p, r.name, 143, 'Error', '', startedAt);
          }
          publish(p.obj['metadata'].namespace, 'MODIFIED', p.obj);
          setTimeout(() => removePod(p), 10);
        });
      }
    }
    json(res, 200, p.obj);
  }

  function serveLogs(p: PodState, q: URLSearchParams, res: ServerResponse): void {
    const spec = p.obj['spec'];
    const names = [...((spec.initContainers ?? []) as Obj[]), ...(spec.containers as Obj[])].map((c) => c.name as string);
    const name = q.get('container') ?? (spec.containers.length === 1 ? spec.containers[0].name : undefined);
    const podName = p.obj['metadata'].name;
    if (!name) return status(res, 400, 'BadRequest', `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
    if (!names.includes(name)) return status(res, 400, 'BadRequest', `container ${name} is not valid for pod ${podName}`);
    const run = p.containers.get(name);
    if (!run?.started) {
      const cs = (p.obj['status'].containerStatuses as Obj[]).find((c) => c.name === name);
      const reason = cs?.state?.waiting?.reason ?? 'ContainerCreating';
      return status(res, 400, 'BadRequest', `container "${name}" in pod "${podName}" is waiting to start: ${reason}`);
    }
    const timestamps = q.get('timestamps') === 'true';
    const since = q.get('sinceTime');
    const sinceKey = since ? timeKey(since) : undefined;
    let lines = run.lines.filter((l) => sinceKey === undefined || l.key >= sinceKey);
    const tail = q.get('tailLines');
    if (tail) lines = lines.slice(-Number(tail));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    for (const l of lines) res.write(`${timestamps ? `${l.ts} ` : ''}${l.text}\n`);
    if (q.get('follow') === 'true' && !run.ended) {
      run.followers.set(res, timestamps);
      res.on('close', () => run.followers.delete(res));
    } else res.end();
  }

  function serveWatch(ns: string, q: URLSearchParams, res: ServerResponse): void {
    const selector = parseSelector(q.get('labelSelector') ?? undefined);
    const from = q.get('resourceVersion');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A watch with nothing to replay must still answer at once.
    res.flushHeaders();
    if (from && from !== '0' && Number(from) < oldest - 1) {
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${oldest})`, reason: 'Expired', code: 410 } })}\n`,
      );
      return;
    }
    if (!from || from === '0') {
      for (const p of pods.values()) {
        if (p.obj['metadata'].namespace === ns && selector(p.obj['metadata'].labels ?? {})) res.write(`${JSON.stringify({ type: 'ADDED', object: p.obj })}\n`);
      }
    } else {
      for (const h of history)
        if (h.rv > Number(from) && h.ns === ns && selector(h.obj['metadata'].labels ?? {})) res.write(`${JSON.stringify({ type: h.type, object: h.obj })}\n`);
    }
    const w: Watcher = { ns, selector, res };
    watchers.add(w);
    const open = [...watchers].filter((x) => x.ns === ns).length;
    watchMax.set(ns, Math.max(watchMax.get(ns) ?? 0, open));
    res.on('close', () => watchers.delete(w));
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) setTimeout(() => res.end(), timeout * 1000).unref();
    if (q.get('allowWatchBookmarks') === 'true') {
      // Like the API server: now and then, the current version with no object change.
      const t = setInterval(
        () => res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } })}\n`),
        2000,
      );
      t.unref();
      res.on('close', () => clearInterval(t));
    }
  }

  async function body(req: IncomingMessage): Promise<Obj | undefined> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as Obj) : undefined;
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), at: Date.now() };
      requests.push(rec);
      trim(requests);
      res.on('finish', () => (rec.status = res.statusCode));
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
      const q = url.searchParams;
      const sent = req.method === 'POST' || req.method === 'DELETE' ? await body(req).catch(() => undefined) : undefined;
      if (req.method === 'POST') rec.name = sent?.['metadata']?.name;
      const streaming = q.get('watch') === 'true' || q.get('watch') === '1' || url.pathname.endsWith('/log');
      const line = `${req.method} ${url.pathname}`;
      if (faults && (faults.match ? faults.match.test(line) : !streaming) && Math.random() < faults.rate) {
        if (faults.retryAfter !== undefined) res.setHeader('retry-after', String(faults.retryAfter));
        const reason = faults.status === 429 ? 'TooManyRequests' : 'InternalError';
        return status(
          res,
          faults.status,
          reason,
          faults.status === 429 ? 'Too many requests, please try again later.' : 'Internal error occurred: emulated fault',
        );
      }
      if (url.pathname === '/api/v1/namespaces' && req.method === 'GET') {
        const items = [...namespaces].map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n }, status: { phase: 'Active' } }));
        return json(res, 200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
      }
      const nsMatch = /^\/api\/v1\/namespaces\/([^/]+)(\/.*)?$/.exec(url.pathname);
      if (nsMatch && !namespaces.has(nsMatch[1]!)) return status(res, 404, 'NotFound', `namespaces "${nsMatch[1]}" not found`);
      if (nsMatch && !nsMatch[2] && req.method === 'GET') {
        return json(res, 200, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsMatch[1] }, status: { phase: 'Active' } });
      }
      let m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
      if (m) {
        const ns = m[1]!;
        if (req.method === 'POST') return createPod(ns, sent ?? {}, res);
        if (req.method === 'GET' && (q.get('watch') === 'true' || q.get('watch') === '1')) return serveWatch(ns, q, res);
        if (req.method === 'GET') {
          const selector = parseSelector(q.get('labelSelector') ?? undefined);
          const byName = /metadata\.name=([^,]+)/.exec(q.get('fieldSelector') ?? '')?.[1];
          const items = [...pods.values()]
            .map((p) => p.obj)
            .filter((o) => o['metadata'].namespace === ns && selector(o['metadata'].labels ?? {}) && (!byName || o['metadata'].name === byName));
          return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
        }
      }
      m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/status|\/log)?$/.exec(url.pathname);
      if (m) {
        const p = pods.get(key(m[1]!, m[2]!));
        if (!p) return status(res, 404, 'NotFound', `pods "${m[2]}" not found`);
        if (m[3] === '/log' && req.method === 'GET') return serveLogs(p, q, res);
        if (req.method === 'GET') return json(res, 200, p.obj);
        if (req.method === 'DELETE' && !m[3]) {
          const grace = q.get('gracePeriodSeconds') ?? sent?.['gracePeriodSeconds'];
          return deletePod(p, grace === undefined || grace === null ? undefined : Number(grace), res);
        }
      }
      m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(url.pathname);
      if (m && req.method === 'GET') {
        const ns = m[1]!;
        const fs = Object.fromEntries(
          (q.get('fieldSelector') ?? '')
            .split(',')
            .filter(Boolean)
            .map((t) => t.split('=') as [string, string]),
        );
        const items = events.filter(
          (e) =>
            e['metadata'].namespace === ns &&
            (!fs['involvedObject.name'] || e['involvedObject'].name === fs['involvedObject.name']) &&
            (!fs['involvedObject.kind'] || e['involvedObject'].kind === fs['involvedObject.kind']),
        );
        return json(res, 200, { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
      }
      return status(res, 404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`);
    })().catch((err: unknown) => {
      if (!res.headersSent) status(res, 500, 'InternalError', String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeConfig = () =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: emulator',
      '  cluster:',
      `    server: ${url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: emulator',
      '  user:',
      `    token: ${TOKEN}`,
      'contexts:',
      '- name: emulator',
      '  context:',
      '    cluster: emulator',
      '    user: emulator',
      '    namespace: default',
      'current-context: emulator',
      '',
    ].join('\n');

  return {
    url,
    requests,
    kubeConfig,
    writeKubeconfig: (path) => writeFileSync(path, kubeConfig()),
    addSecret: (ns, name, data) => void secrets.set(key(ns, name), { ...data }),
    addConfigMap: (ns, name, data) => void configMaps.set(key(ns, name), { ...data }),
    getPod: (ns, name) => (pods.get(key(ns, name))?.obj ? structuredClone(pods.get(key(ns, name))!.obj) : undefined),
    podNames: (ns) => [...pods.values()].filter((p) => p.obj['metadata'].namespace === ns).map((p) => p.obj['metadata'].name as string),
    dropWatches: () => {
      for (const w of watchers) w.res.socket?.destroy();
      watchers.clear();
    },
    dropLogStreams: () => {
      for (const p of pods.values()) {
        for (const run of p.containers.values()) {
          for (const f of run.followers.keys()) f.socket?.destroy();
          run.followers.clear();
        }
      }
    },
    addNamespace: (n) => void namespaces.add(n),
    setFaults: (f) => {
      faults = f;
    },
    setPodQuota: (ns, n) => void (n === undefined ? quotas.delete(ns) : quotas.set(ns, n)),
    watchCounts: () => {
      const out: Record<string, { open: number; max: number }> = {};
      for (const [ns, max] of watchMax) out[ns] = { open: [...watchers].filter((w) => w.ns === ns).length, max };
      return out;
    },
    phaseTimes: (ns, name) => ({ ...phases.get(key(ns, name)) }),
    compactHistory: () => {
      // Every version handed out so far is expired: any resume answers 410 Gone.
      // (One version is spent on the compaction, so a list afterwards returns a valid one.)
      rv += 1;
      history.length = 0;
      oldest = rv + 1;
    },
    stop: async () => {
      stopped = true;
      for (const p of pods.values()) {
        for (const t of p.timers) clearTimeout(t);
        killAll(p, 'SIGKILL');
        rmSync(p.dir, { recursive: true, force: true });
      }
      for (const w of watchers) w.res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
