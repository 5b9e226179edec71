import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../src/config.js';

describe('the worker config', () => {
  it('gives each setting its default, grouped as the worker takes them', () => {
    const c = loadWorkerConfig({});
    expect(c).toMatchObject({
      queues: ['default'],
      concurrency: 8,
      lockMs: 30000,
      heartbeatMs: 2000,
      killGraceMs: 5000,
      graceMs: 30000,
      fnRunners: { warm: 2, idleMs: 600000, maxHeapMb: 1024 },
      templates: { timeoutMs: 2000, maxBytes: 1048576, heapMb: 128 },
      kubernetes: { kubeconfig: undefined, defaultCluster: false, startupTimeoutMs: 120000, createConcurrency: 16, orphanSweepMs: 60000 },
      taskPods: { image: 'aloft/aloft:latest', command: ['aloft-entrypoint', 'run-task'], namespace: 'default', dagsFolder: '/app/dags' },
      podsOnStandIn: false,
    });
  });

  it('reads queues as a list, finds a cluster from KUBECONFIG, and names a bad pod command', () => {
    expect(loadWorkerConfig({ ALOFT_WORKER_QUEUES: ' a, b ,,' }).queues).toEqual(['a', 'b']);
    expect(loadWorkerConfig({ KUBECONFIG: '/k' }).kubernetes.defaultCluster).toBe(true);
    expect(loadWorkerConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }).kubernetes.defaultCluster).toBe(true);
    expect(() => loadWorkerConfig({ ALOFT_TASK_POD_COMMAND: 'run-task' })).toThrow('ALOFT_TASK_POD_COMMAND: must be a JSON array of strings');
  });
});
