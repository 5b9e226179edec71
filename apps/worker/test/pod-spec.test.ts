import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '@aloft/core';
import { buildPod, identityLabels, podName, renderPodTemplates, scaleMemory, type PodParams } from '../src/executors/kubernetes/pod-spec.js';
import type { TaskTemplates } from '../src/template-renderer.js';
import { verdict } from '../src/executors/kubernetes/reasons.js';

const id = { dagId: 'Nightly_Export.v2', runId: 'manual__2026-11-25T04:00:00.000Z__ab12', taskId: 'export-to.S3', mapIndex: -1, tryNumber: 2 };
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const base = (p: Partial<PodParams>): PodParams => ({ namespace: 'jobs', image: 'busybox:1.36', onFinish: 'delete', getLogs: true, ...p });

describe('pod spec', () => {
  it('names a try deterministically, as a DNS-1123 label, with valid identity labels', () => {
    const n = podName(id);
    expect(n).toBe(podName({ ...id }));
    expect(n).not.toBe(podName({ ...id, tryNumber: 3 }));
    expect(n).not.toBe(podName({ ...id, runId: `${id.runId}x` }));
    expect(n.length).toBeLessThanOrEqual(63);
    expect(n).toMatch(DNS1123);
    expect(n.endsWith('-2')).toBe(true);
    const long = podName({ ...id, dagId: 'd'.repeat(200), taskId: 't'.repeat(200) }, 'prefix');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(DNS1123);
    for (const v of Object.values(identityLabels({ ...id, runId: 'x'.repeat(300) }))) expect(v).toMatch(LABEL_VALUE);
    expect(identityLabels(id)['aloft.dev/map-index']).toBe('none');
  });

  it('merges the parameters onto a template file, keeping secrets as references', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pod-tpl-'));
    writeFileSync(
      join(dir, 'template.yaml'),
      [
        'metadata:',
        '  labels: { team: platform }',
        'spec:',
        '  priorityClassName: low',
        '  containers:',
        '    - name: base',
        '      image: ignored',
        '      env: [{ name: FROM_TEMPLATE, value: "1" }]',
        '    - name: proxy',
        '      image: envoy:1',
      ].join('\n'),
    );
    // Rendered in-process here; the worker renders in its template process.
    const templates: TaskTemplates = { render: (fields) => Promise.resolve(fields.map((f) => renderTemplate(f.template, { ds: '2026-11-25' }, f.where))) };
    const params = await renderPodTemplates(
      base({
        podTemplateFile: 'template.yaml',
        cmds: ['sh', '-c'],
        arguments: ['echo {{ ds }}'],
        env: { DAY: '{{ ds }}', TOKEN: { secretKeyRef: { name: 'api', key: 'token' } } },
        secrets: [
          { type: 'envFrom', secret: 'all-of-it' },
          { type: 'volume', secret: 'gcp-key', mountPath: '/var/secrets/gcp' },
        ],
        labels: { app: 'export' },
        resources: { requests: { memory: '256Mi' }, limits: { memory: '512Mi' } },
        activeDeadlineMs: 90_500,
        terminationGracePeriodMs: 5_000,
        tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
      }),
      templates,
      `${id.dagId}.${id.taskId}`,
    );
    const pod = buildPod({
      params,
      id,
      dagFile: join(dir, 'dag.ts'),
      taskEnv: { ALOFT_DAG_ID: id.dagId },
      oomKills: 0,
    });
    const main = pod.spec!.containers.find((c) => c.name === 'base')!;
    expect(pod.metadata?.namespace).toBe('jobs');
    expect(pod.metadata?.labels).toMatchObject({ team: 'platform', app: 'export', 'aloft.dev/managed-by': 'aloft', 'aloft.dev/try': '2' });
    expect(pod.metadata?.annotations?.['aloft.dev/run-id']).toBe(id.runId);
    expect(main.image).toBe('busybox:1.36');
    expect(main.command).toEqual(['sh', '-c']);
    expect(main.args).toEqual(['echo 2026-11-25']);
    expect(main.env).toEqual(
      expect.arrayContaining([
        { name: 'FROM_TEMPLATE', value: '1' },
        { name: 'ALOFT_DAG_ID', value: id.dagId },
        { name: 'DAY', value: '2026-11-25' },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } },
      ]),
    );
    expect(main.envFrom).toEqual([{ secretRef: { name: 'all-of-it' } }]);
    expect(main.volumeMounts).toEqual([{ name: 'secret-1-gcp-key', mountPath: '/var/secrets/gcp', readOnly: true }]);
    expect(pod.spec!.volumes).toEqual([{ name: 'secret-1-gcp-key', secret: { secretName: 'gcp-key' } }]);
    expect(pod.spec!.containers.map((c) => c.name)).toEqual(['base', 'proxy']);
    expect(pod.spec).toMatchObject({ restartPolicy: 'Never', priorityClassName: 'low', activeDeadlineSeconds: 91, terminationGracePeriodSeconds: 5 });
    expect(main.terminationMessagePath).toBe('/dev/termination-log');
  });

  it('gives a try after OOMKills more memory, capped', () => {
    const r = { requests: { memory: '1Gi', cpu: '500m' }, limits: { memory: '2Gi' } };
    expect(scaleMemory(r, { factor: 1.5, max: '8Gi' }, 0)).toBe(r);
    expect(scaleMemory(r, { factor: 1.5, max: '8Gi' }, 1)).toEqual({ requests: { memory: '1536Mi', cpu: '500m' }, limits: { memory: '3072Mi' } });
    expect(scaleMemory(r, { factor: 1.5, max: '4Gi' }, 3)).toEqual({ requests: { memory: '3456Mi', cpu: '500m' }, limits: { memory: '4096Mi' } });
  });

  it('reads a pod status into a verdict with the reason in words', () => {
    const term = (t: Record<string, unknown>) => ({
      status: { phase: 'Failed', containerStatuses: [{ name: 'base', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: t } }] },
    });
    expect(verdict(term({ exitCode: 137, reason: 'OOMKilled' }) as never)).toMatchObject({
      kind: 'failed',
      oomKilled: true,
      reason: 'OOMKilled: container "base" ran out of memory (exit code 137)',
    });
    expect(verdict(term({ exitCode: 2, reason: 'Error' }) as never)).toMatchObject({ kind: 'failed', reason: 'exit code 2', exitCode: 2 });
    expect(verdict({ status: { phase: 'Failed', reason: 'Evicted', message: 'low on memory' } } as never)).toMatchObject({ reason: 'Evicted: low on memory' });
    expect(
      verdict({
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes' }] },
      } as never),
    ).toEqual({
      kind: 'pending',
      detail: 'Unschedulable: 0/1 nodes',
      unschedulable: true,
    });
  });
});
