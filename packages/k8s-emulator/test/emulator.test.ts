import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig, Log, Watch, type V1Pod } from '@kubernetes/client-node';
import { startEmulator, type Emulator } from '../src/index.js';

/** The emulator as the unmodified @kubernetes/client-node sees it. */
describe('Kubernetes API emulator', () => {
  let emu: Emulator;
  let kc: KubeConfig;
  let api: CoreV1Api;

  const pod = (name: string, command: string[], extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: { name, labels: { app: 'emu-test' }, ...extra },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command }] },
  });
  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn().catch(() => undefined);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const phase = (name: string, want: string) =>
    until(`${name} ${want}`, async () => {
      const p = await api.readNamespacedPod({ name, namespace: 'default' });
      return p.status?.phase === want && p;
    });
  const text = (chunks: string[]) =>
    new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    });

  beforeAll(async () => {
    emu = await startEmulator();
    kc = new KubeConfig();
    kc.loadFromString(emu.kubeConfig());
    api = kc.makeApiClient(CoreV1Api);
  });
  afterAll(() => emu.stop());

  it('creates, reads and lists pods, and answers like an API server when it cannot', async () => {
    const created = await api.createNamespacedPod({ namespace: 'default', body: pod('a1', ['sh', '-c', 'exit 0']) });
    expect(created.metadata?.uid).toBeTruthy();
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    await expect(api.createNamespacedPod({ namespace: 'default', body: pod('a1', ['true']) })).rejects.toMatchObject({ code: 409 });
    await expect(api.createNamespacedPod({ namespace: 'default', body: pod('Bad_Name', ['true']) })).rejects.toMatchObject({ code: 422 });
    await expect(api.readNamespacedPod({ name: 'nope', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
    const list = await api.listNamespacedPod({ namespace: 'default', labelSelector: 'app=emu-test' });
    expect(list.items.map((p) => p.metadata?.name)).toContain('a1');
    expect((await api.listNamespacedPod({ namespace: 'default', labelSelector: 'app!=emu-test' })).items).toEqual([]);
    const noAuth = await fetch(`${emu.url}/api/v1/namespaces/default/pods`);
    expect(noAuth.status).toBe(401);
    await expect(api.createNamespacedPod({ namespace: 'nowhere', body: pod('a2', ['true']) })).rejects.toMatchObject({ code: 404 });
    const badQty = pod('a3', ['true']);
    badQty.spec!.containers[0]!.resources = { limits: { memory: 'lots' } };
    await expect(api.createNamespacedPod({ namespace: 'default', body: badQty })).rejects.toMatchObject({ code: 422 });
    await expect(api.createNamespacedPod({ namespace: 'default', body: pod('a4', ['true'], { labels: { team: 'bad value!' } }) })).rejects.toMatchObject({
      code: 422,
    });
    emu.addNamespace('jobs');
    expect((await api.listNamespace()).items.map((n) => n.metadata?.name)).toEqual(expect.arrayContaining(['default', 'jobs']));
  });

  it('runs the container command: exit code, termination message and both streams in the log', async () => {
    await api.createNamespacedPod({
      namespace: 'default',
      body: pod('runner', ['sh', '-c', 'echo one; echo two >&2; echo \'{"n":1}\' > /dev/termination-log; exit 3']),
    });
    const done = await phase('runner', 'Failed');
    const term = done.status?.containerStatuses?.[0]?.state?.terminated;
    expect(term?.exitCode).toBe(3);
    expect(term?.reason).toBe('Error');
    expect(JSON.parse(term?.message ?? '')).toEqual({ n: 1 });
    const chunks: string[] = [];
    const w = text(chunks);
    await new Log(kc).log('default', 'runner', 'main', w, { timestamps: true });
    await new Promise((r) => w.on('finish', r));
    const lines = chunks.join('').trim().split('\n');
    expect(lines.map((l) => l.slice(l.indexOf(' ') + 1)).sort()).toEqual(['one', 'two']);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /);
  });

  it('watches from a resourceVersion, replays only what came after, and says 410 Gone once history is compacted', async () => {
    const list = await api.listNamespacedPod({ namespace: 'default' });
    const from = list.metadata!.resourceVersion!;
    const seen: string[] = [];
    let ended: unknown = 'open';
    await new Watch(kc).watch(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: from, labelSelector: 'app=emu-test' },
      (type, obj: V1Pod) => seen.push(`${type}:${obj.metadata?.name}`),
      (err) => {
        ended = err ?? null;
      },
    );
    await api.createNamespacedPod({ namespace: 'default', body: pod('w1', ['sh', '-c', 'exit 0']) });
    await until('w1 events', async () => seen.includes('ADDED:w1') && seen.some((s) => s === 'MODIFIED:w1'));
    expect(seen.every((s) => s.endsWith(':w1'))).toBe(true);
    emu.dropWatches();
    await until('the watch to end', async () => ended !== 'open');

    emu.compactHistory();
    const events: { type: string; code?: number }[] = [];
    await new Watch(kc).watch(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: from },
      (type, obj: { code?: number }) => events.push({ type, code: obj.code }),
      () => undefined,
    );
    await until('the 410', async () => events.length > 0);
    expect(events[0]).toEqual({ type: 'ERROR', code: 410 });
  });

  it('follows a log live, and a dropped stream resumes from sinceTime without losing lines', async () => {
    await api.createNamespacedPod({ namespace: 'default', body: pod('ticker', ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.15; done']) });
    await phase('ticker', 'Running');
    const chunks: string[] = [];
    await new Log(kc).log('default', 'ticker', 'main', text(chunks), { follow: true, timestamps: true });
    await until('two ticks', async () => chunks.join('').split('\n').length > 2);
    emu.dropLogStreams();
    const first = chunks.join('').trim().split('\n');
    const last = first.at(-1)!;
    const rest: string[] = [];
    const w = text(rest);
    await new Log(kc).log('default', 'ticker', 'main', w, { follow: true, timestamps: true, sinceTime: last.slice(0, 19) + 'Z' });
    await new Promise((r) => w.on('finish', r));
    const after = rest
      .join('')
      .trim()
      .split('\n')
      .filter((l) => l.slice(0, l.indexOf(' ')) > last.slice(0, last.indexOf(' ')));
    const all = [...first, ...after].map((l) => l.slice(l.indexOf(' ') + 1));
    expect(all).toEqual(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6']);
  });

  it('deletes a running pod with its grace period and reports DELETED', async () => {
    await api.createNamespacedPod({ namespace: 'default', body: pod('sleeper', ['sleep', '30']) });
    await phase('sleeper', 'Running');
    const t0 = Date.now();
    await api.deleteNamespacedPod({ name: 'sleeper', namespace: 'default', gracePeriodSeconds: 1 });
    await until('sleeper gone', async () => !emu.podNames('default').includes('sleeper'), 25_000);
    // Far below the 30 s sleep: the grace period ended it (a bound, not a figure a loaded machine must meet).
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('scripts the failures a pod executor must name', async () => {
    const make = (name: string, behaviour: string, extra: Partial<V1Pod['spec']> = {}) =>
      api.createNamespacedPod({
        namespace: 'default',
        body: {
          ...pod(name, ['sleep', '5'], { annotations: { 'emulator.aloft.dev/behaviour': behaviour } }),
          spec: { ...pod(name, ['sleep', '5']).spec!, ...extra },
        },
      });
    await make('pullfail', 'image-pull-failure');
    await make('oomer', 'oom');
    await make('nowhere', 'unschedulable');
    await make('evictee', 'evicted');
    await make('crasher', 'crashloop');
    await api.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'nosecret' },
        spec: {
          containers: [{ name: 'main', image: 'busybox', command: ['true'], env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'absent', key: 'k' } } }] }],
        },
      },
    });
    const waiting = (name: string, reason: string) =>
      until(`${name} ${reason}`, async () => {
        const p = await api.readNamespacedPod({ name, namespace: 'default' });
        const w = p.status?.containerStatuses?.[0]?.state?.waiting;
        return w?.reason === reason && w;
      });
    expect((await waiting('pullfail', 'ImagePullBackOff')).message).toContain('busybox:1.36');
    expect((await waiting('nosecret', 'CreateContainerConfigError')).message).toBe('secret "absent" not found');
    expect((await waiting('crasher', 'CrashLoopBackOff')).message).toContain('back-off');
    const oom = await phase('oomer', 'Failed');
    expect(oom.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    const ev = await phase('evictee', 'Failed');
    expect(ev.status?.reason).toBe('Evicted');
    const nowhere = await until('unschedulable', async () => {
      const p = await api.readNamespacedPod({ name: 'nowhere', namespace: 'default' });
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
    });
    expect(nowhere.message).toBe('0/3 nodes are available: 3 Insufficient cpu.');
    const events = await api.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=nowhere' });
    expect(events.items.map((e) => e.reason)).toContain('FailedScheduling');
  });
});
