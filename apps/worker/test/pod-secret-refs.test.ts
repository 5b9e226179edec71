import { describe, expect, it } from 'vitest';
import { dag, DagImportError, EnvSecretsBackend, renderTemplate, secret, SecretMasker } from '@aloft/core';
import { buildPod, renderPodTemplates, type PodParams } from '../src/executors/kubernetes/pod-spec.js';
import { podSecretParams, runInPodSecretEnv } from '../src/executors/kubernetes/pod-secret-refs.js';
import { materialize } from '../src/executors/kubernetes/pod-secret-materializer.js';
import { TrySecrets } from '../src/try-secrets.js';
import { refusedReference } from '../src/executors/kubernetes/pod-references.js';
import { MaskedLines, podSecretMasker } from '../src/pod-masking.js';
import { LineSplitter, MAX_LINE_CHARS } from '../src/task-log.js';
import type { TaskTemplates } from '../src/template-renderer.js';

const id = { dagId: 'etl', runId: 'manual__1', taskId: 'load', mapIndex: -1, tryNumber: 1 };
const base = (p: Partial<PodParams>): PodParams => ({ namespace: 'jobs', image: 'busybox:1.36', onFinish: 'delete', getLogs: true, ...p });
const PASSWORD = 'pw-Zq81!x';
/** Renders as the worker would, with the connection's values at hand: what must never reach a spec. */
const withSecrets: TaskTemplates = {
  render: (fields) =>
    Promise.resolve(fields.map((f) => f.template.replace(/\{\{[^}]*conn[^}]*\}\}/g, PASSWORD).replace(/\{\{[^}]*var[^}]*\}\}/g, 'eu-west-1'))),
};

async function built(p: PodParams): Promise<ReturnType<typeof buildPod>> {
  const mapped = podSecretParams(p, 'dag "etl", task "load"');
  if ('refused' in mapped) throw new Error(mapped.refused);
  const rendered = await renderPodTemplates(mapped.params, withSecrets, 'etl.load');
  return buildPod({ params: rendered, id, dagFile: '/dags/etl.ts', taskEnv: { ALOFT_DAG_ID: 'etl' }, oomKills: 0 });
}

describe('pod tasks get connections and variables by Secret reference', () => {
  it('maps secret.conn(id).<field> and secret.variable(key) to secretKeyRefs on aloft-conn-<name> and aloft-variables', async () => {
    const pod = await built(
      base({
        env: {
          PGPASSWORD: secret.conn('warehouse').password,
          PGHOST: secret.conn('Warehouse_EU.main').host,
          DSN: secret.conn('my-db').uri,
          REGION: secret.variable('region'),
          PLAIN: 'x',
          FROM_CM: { configMapKeyRef: { name: 'cfg', key: 'k' } },
        },
      }),
    );
    const env = Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e]));
    expect(env['PGPASSWORD']).toEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'aloft-conn-warehouse', key: 'password' } } });
    expect(env['PGHOST']!.valueFrom!.secretKeyRef).toEqual({ name: 'aloft-conn-warehouse-eu-main', key: 'host' });
    expect(env['DSN']!.valueFrom!.secretKeyRef).toEqual({ name: 'aloft-conn-my-db', key: 'uri' });
    expect(env['REGION']!.valueFrom!.secretKeyRef).toEqual({ name: 'aloft-variables', key: 'region' });
    expect(env['PLAIN']!.value).toBe('x');
    expect(env['FROM_CM']!.valueFrom!.configMapKeyRef).toEqual({ name: 'cfg', key: 'k' });
    expect(JSON.stringify(pod)).not.toContain(PASSWORD);
    expect(JSON.stringify(pod)).not.toContain('eu-west-1');
  });

  it('refuses, by field and in words, any other template naming a secret: no value is ever rendered into a spec', () => {
    const cases: [Partial<PodParams>, string][] = [
      [{ env: { URL: 'postgres://u:{{ conn.warehouse.password }}@db' } }, 'env.URL'],
      [{ cmds: ['sh', '-c', 'psql "{{ conn.warehouse.uri }}"'] }, 'cmds'],
      [{ arguments: ['--region={{ var.region }}'] }, 'arguments'],
      [{ env: { LIMIT: '{{ var.json.limits.max }}' } }, 'env.LIMIT'],
      [{ env: { X: secret.conn('warehouse').extra('token') } }, 'env.X'],
    ];
    for (const [p, field] of cases) {
      const r = podSecretParams(base(p), 'dag "etl", task "load"');
      expect(r).toHaveProperty('refused');
      const reason = (r as { refused: string }).refused;
      expect(reason).toContain(`dag "etl", task "load": ${field}:`);
      if (field !== 'env.X') expect(reason).toContain("pod tasks get connections by Secret reference only: use env: { X: secret.conn('id').password }");
    }
  });

  it('names a connection whose Secret could not have a DNS-1123 name', () => {
    const r = podSecretParams(base({ env: { P: secret.conn('db_').password } }), 'dag "etl", task "load"');
    expect((r as { refused: string }).refused).toMatch(
      /env\.P: connection "db_" cannot reach a pod: its Secret would be "aloft-conn-db-", not a DNS-1123 name/,
    );
  });

  it('keeps templates that name no secret, and pods with no env, as they were', async () => {
    const p = base({ env: { DAY: '{{ ds }}', VARIANCE: 'conn.x is not a template' }, cmds: ['echo', '{{ ds }}'] });
    expect(podSecretParams(p, 't')).toEqual({ params: p, refs: {} });
    expect(podSecretParams(base({}), 't')).toEqual({ params: base({}), refs: {} });
  });

  it('applies ALOFT_POD_SECRET_ALLOWLIST to the Secrets the references name', async () => {
    const pod = await built(base({ env: { P: secret.conn('warehouse').password } }));
    expect(refusedReference(pod, { secrets: ['aloft-conn-*'], configMaps: [] }, 'task')).toBeUndefined();
    expect(refusedReference(pod, { secrets: ['aloft-variables'], configMaps: [] }, 'task')).toMatch(
      /Secret "aloft-conn-warehouse" \(env P of container base\)/,
    );
  });

  it('gives a runInPod task ALOFT_CONN_<ID> and ALOFT_VAR_<KEY> by reference, and names them in ALOFT_SECRET_ENV', () => {
    const env = {
      ALOFT_TASK_SPEC: 'e30=',
      PGPASSWORD: secret.conn('x').password,
      ...runInPodSecretEnv({ connections: ['warehouse-db.eu'], variables: ['region'] }),
    };
    const r = podSecretParams(base({ env }), 't');
    expect(r).toEqual({
      params: base({
        env: {
          ALOFT_TASK_SPEC: 'e30=',
          PGPASSWORD: { secretKeyRef: { name: 'aloft-conn-x', key: 'password' } },
          ALOFT_CONN_WAREHOUSE_DB_EU: { secretKeyRef: { name: 'aloft-conn-warehouse-db-eu', key: 'uri' } },
          ALOFT_VAR_REGION: { secretKeyRef: { name: 'aloft-variables', key: 'region' } },
          ALOFT_SECRET_ENV: 'PGPASSWORD,ALOFT_CONN_WAREHOUSE_DB_EU,ALOFT_VAR_REGION',
        },
      }),
      refs: {
        PGPASSWORD: { kind: 'conn', id: 'x', field: 'password' },
        ALOFT_CONN_WAREHOUSE_DB_EU: { kind: 'conn', id: 'warehouse-db.eu', field: 'uri' },
        ALOFT_VAR_REGION: { kind: 'var', key: 'region' },
      },
    });
    expect(runInPodSecretEnv({})).toEqual({});
  });
});

describe('no secret value ever reaches a built pod spec', () => {
  // As the worker renders: the connections and variables the fields name are read
  // (TrySecrets.forTemplates), then each field is rendered with them in its context.
  const secrets = new TrySecrets([
    new EnvSecretsBackend({ ALOFT_CONN_WAREHOUSE: `postgres://etl:${encodeURIComponent(PASSWORD)}@db:5432/wh`, ALOFT_VAR_API_TOKEN: 'tok-91c2e7' }),
  ]);
  const real: TaskTemplates = {
    async render(fields) {
      const s = await secrets.forTemplates(fields.map((f) => f.template));
      return fields.map((f) => renderTemplate(f.template, { ds: '2026-12-01', conn: s?.conn ?? {}, var: { ...s?.var, json: s?.json ?? {} } }, f.where));
    },
  };
  const forms = [
    '{{ conn.warehouse.password }}',
    '{{conn.warehouse.password}}',
    "{{ conn['warehouse'].password }}",
    '{{ conn["warehouse"].uri }}',
    '{{- conn.warehouse.password -}}',
    'pw={{ conn.warehouse.password }}',
    '{{ conn.warehouse.password | upper }}',
    '{{ conn.warehouse.extra.x }}{{ conn.warehouse.password }}',
    '{% if conn.warehouse.password %}{{ conn.warehouse.password }}{% endif %}',
    '{{ var.api_token }}',
    '{{ var["api_token"] }}',
    'Bearer {{ var.api_token }}',
  ];

  it('whatever form a reference takes in env, cmds or arguments: refused, or a secretKeyRef', async () => {
    // The renderer here does read and render secrets: unmapped, a reference would leak.
    expect(
      await real.render([
        { template: forms[0]!, where: 'x' },
        { template: forms[9]!, where: 'y' },
      ]),
    ).toEqual([PASSWORD, 'tok-91c2e7']);
    let mappedCount = 0;
    for (const form of forms) {
      for (const p of [{ env: { X: form } }, { cmds: ['sh', '-c', form] }, { arguments: [form] }] as Partial<PodParams>[]) {
        const mapped = podSecretParams(base(p), 't');
        if ('refused' in mapped) continue;
        mappedCount++;
        const pod = buildPod({ params: await renderPodTemplates(mapped.params, real, 'etl.load'), id, dagFile: '/dags/etl.ts', taskEnv: {}, oomKills: 0 });
        const json = JSON.stringify(pod);
        for (const leak of [PASSWORD, encodeURIComponent(PASSWORD), PASSWORD.toUpperCase(), 'tok-91c2e7']) expect(json, form).not.toContain(leak);
      }
    }
    // The exact references in env (plain, no spaces, bracketed, a variable both ways) are mapped; everything else is refused.
    expect(mappedCount).toBe(6);
  });
});

describe('materializeSecrets', () => {
  it("points the references at the try's own Secret, holding only the values named, read (and masked) by the worker", async () => {
    const secrets = new TrySecrets([
      new EnvSecretsBackend({ ALOFT_CONN_WAREHOUSE: `postgres://etl:${encodeURIComponent(PASSWORD)}@db:5432/wh`, ALOFT_VAR_REGION: 'eu-west-1' }),
    ]);
    const mapped = podSecretParams(
      base({ env: { A: secret.conn('warehouse').password, B: secret.conn('warehouse').port, C: secret.variable('region'), D: 'plain' } }),
      't',
    );
    if ('refused' in mapped) throw new Error(mapped.refused);
    const { params, secret: own } = await materialize(mapped.params, mapped.refs, 'etl-load-abc-1-secrets', secrets.lookup);
    expect(own).toEqual({
      name: 'etl-load-abc-1-secrets',
      data: { 'conn.warehouse.password': PASSWORD, 'conn.warehouse.port': '5432', 'var.region': 'eu-west-1' },
    });
    expect(params.env).toMatchObject({
      A: { secretKeyRef: { name: own.name, key: 'conn.warehouse.password' } },
      C: { secretKeyRef: { name: own.name, key: 'var.region' } },
      D: 'plain',
    });
    const pod = buildPod({ params: await renderPodTemplates(params, withSecrets, 'etl.load'), id, dagFile: '/dags/etl.ts', taskEnv: {}, oomKills: 0 });
    expect(JSON.stringify(pod)).not.toContain(PASSWORD);
    expect(secrets.masker.mask(`pw ${PASSWORD}`)).toBe('pw ***');
    await expect(
      materialize(
        mapped.params,
        { X: { kind: 'conn', id: 'warehouse', field: 'schema' }, Y: { kind: 'conn', id: 'nowhere', field: 'host' } },
        'n',
        secrets.lookup,
      ),
    ).rejects.toThrow(/connection "nowhere" not found; tried env ALOFT_CONN_NOWHERE/);
    await expect(materialize(mapped.params, { X: { kind: 'conn', id: 'warehouse', field: 'login' } }, 'n', undefined)).rejects.toThrow(/no secrets backends/);
  });
});

describe('import-time checks of pod secrets', () => {
  const load = (build: (d: ReturnType<typeof dag>) => void) => {
    const d = dag({ id: `pod_secrets_${Math.random().toString(36).slice(2)}` });
    build(d);
    return () => d.serialize();
  };

  it('fails the import naming the task and the field', () => {
    const bad = load((d) => d.kubernetesPod({ id: 'p', image: 'busybox', cmds: ['echo', '{{ conn.warehouse.password }}'] }));
    expect(bad).toThrow(DagImportError);
    expect(bad).toThrow(/task "p": cmds: pod tasks get connections by Secret reference only/);
    const cmd = load((d) => d.command({ id: 'c', command: 'psql {{ conn.warehouse.uri }}', runInPod: true }));
    expect(cmd).toThrow(/task "c": command: pod tasks get connections by Secret reference only/);
    const ids = load((d) => d.fn({ id: 'f', run: () => 1, runInPod: { connections: ['ok', 'db_'], variables: [''] } }));
    expect(ids).toThrow(/runInPod\.connections\[1\]: connection "db_" cannot reach a pod/);
    expect(ids).toThrow(/runInPod\.variables\[0\] is not a variable id/);
  });

  it('accepts references, and the same templates where no pod is involved', () => {
    expect(load((d) => d.kubernetesPod({ id: 'p', image: 'busybox', env: { P: secret.conn('warehouse').password } }))).not.toThrow();
    expect(load((d) => d.command({ id: 'c', command: 'echo {{ var.region }}', env: { P: secret.conn('warehouse').password } }))).not.toThrow();
    expect(
      load((d) => d.command({ id: 'c', command: 'psql', env: { P: secret.conn('warehouse').password }, runInPod: { connections: ['warehouse'] } })),
    ).not.toThrow();
  });
});

describe('masking in a task pod', () => {
  it('masks ALOFT_CONN_*, ALOFT_VAR_* and the variables ALOFT_SECRET_ENV names, across chunks and %-encoded', () => {
    const m = podSecretMasker({
      ALOFT_CONN_WAREHOUSE: 'postgres://etl:s3cr%2Ft@db:5432/wh',
      ALOFT_VAR_REGION: 'eu-west-1',
      PGPASSWORD: 'hunter22',
      ALOFT_SECRET_ENV: 'PGPASSWORD',
      HOME: '/root',
    });
    const out: string[] = [];
    const lines = new MaskedLines(m, (t) => out.push(t));
    lines.push('password is hun');
    lines.push('ter22 and s3cr/t (url s3cr%2Ft) in eu-west-1\nhome /root\npartial s3cr');
    lines.push('/t');
    lines.end();
    expect(out.join('')).toBe('password is *** and *** (url ***) in ***\nhome /root\npartial ***\n');
    expect(m).toBeInstanceOf(SecretMasker);
  });

  it('masks a secret that straddles where a line that never ends is cut, in every place it falls', () => {
    const m = podSecretMasker({ PGPASSWORD: 'hunter22-long-secret', ALOFT_SECRET_ENV: 'PGPASSWORD' });
    // 4 KiB chunks first pass the limit at the 17th chunk: a cut made there without care
    // would fall inside a secret starting just before it.
    const firstCut = Math.ceil((MAX_LINE_CHARS + 1) / 4096) * 4096;
    for (const at of [MAX_LINE_CHARS - 10, MAX_LINE_CHARS, firstCut - 15, firstCut - 1, firstCut + 5]) {
      const out: string[] = [];
      const lines = new MaskedLines(m, (t) => out.push(t));
      const text = `${'x'.repeat(at)}hunter22-long-secret${'y'.repeat(MAX_LINE_CHARS)}`;
      // Fed in chunks of 4 KiB, as a pipe delivers it.
      for (let i = 0; i < text.length; i += 4096) lines.push(text.slice(i, i + 4096));
      lines.end();
      const all = out.join('');
      expect(all, `secret at ${at}`).not.toContain('hunter22');
      expect(all.replaceAll('\n', ''), `secret at ${at}`).toBe(`${'x'.repeat(at)}***${'y'.repeat(MAX_LINE_CHARS)}`);
      expect(out.length, `secret at ${at}`).toBeGreaterThan(1);
    }
  });

  it('keeps a character split across chunks whole', () => {
    const got: string[] = [];
    const split = new LineSplitter((l) => got.push(l));
    const bytes = Buffer.from('café ☃ ok\n', 'utf8');
    for (const b of bytes) split.push(Buffer.from([b]));
    split.end();
    expect(got).toEqual(['café ☃ ok']);
  });
});
