import { hostname } from 'node:os';
import { z } from 'zod';
import {
  dagsFolder,
  DAGS_FOLDER_SETTING,
  parseEnv,
  SECRETS_SETTINGS,
  SERVICE_SETTINGS,
  serviceConfig,
  STAND_IN_SETTING,
  USER_CODE_SETTINGS,
  type ServiceConfig,
} from '@aloft/core';
import type { FnPoolOptions } from './executors/fn-pool.js';
import type { PodReferenceAllowList } from './executors/kubernetes/pod-references.js';
import type { TaskPodDefaults } from './executors/kubernetes/task-pods.js';
import type { AloftWorkerOptions } from './worker.js';

/**
 * A comma-separated list of object names that may contain `*` ("warehouse,etl-*"); empty
 * allows none. Default `*`, every name: the shipped manifests set their own list.
 */
function nameList(kind: string) {
  return z
    .string()
    .default('*')
    .transform((s, c) => {
      const names = s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const bad = names.find((n) => !/^[a-z0-9*]([-a-z0-9.*]*[a-z0-9*])?$/.test(n));
      if (bad === undefined) return names;
      c.addIssue({ code: 'custom', message: `"${bad}" is not a ${kind} name or a pattern with * (lower-case letters, digits, "-", ".")` });
      return z.NEVER;
    });
}

/** A JSON array of strings, e.g. `["aloft-entrypoint","run-task"]`. */
const commandList = z
  .string()
  .default('["aloft-entrypoint","run-task"]')
  .transform((s, c) => {
    try {
      const v: unknown = JSON.parse(s);
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      // Reported below.
    }
    c.addIssue({ code: 'custom', message: 'must be a JSON array of strings, e.g. ["aloft-entrypoint","run-task"]' });
    return z.NEVER;
  });

/** Every environment variable the worker reads, with its default. */
const WORKER_ENV = z.object({
  ...SERVICE_SETTINGS,
  ...DAGS_FOLDER_SETTING,
  ...USER_CODE_SETTINGS,
  ...STAND_IN_SETTING,
  ...SECRETS_SETTINGS,
  ALOFT_WORKER_QUEUES: z.string().default('default'),
  ALOFT_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(8),
  ALOFT_WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8792),
  ALOFT_WORKER_ID: z.string().default(`${hostname()}-${process.pid}`),
  ALOFT_WORKER_HOST: z.string().min(1).optional(),
  ALOFT_WORKER_GRACE_MS: z.coerce.number().int().min(0).default(30000),
  ALOFT_FN_RUNNERS_WARM: z.coerce.number().int().min(0).max(1000).default(2),
  ALOFT_FN_RUNNER_IDLE_MS: z.coerce.number().int().min(1000).default(600000),
  ALOFT_FN_RUNNER_HEAP_MB: z.coerce.number().int().min(16).default(1024),
  ALOFT_K8S_KUBECONFIG: z.string().optional(),
  ALOFT_K8S_CONTEXT: z.string().optional(),
  ALOFT_K8S_STARTUP_TIMEOUT_MS: z.coerce.number().int().min(1000).default(120000),
  ALOFT_K8S_ORPHAN_SWEEP_MS: z.coerce.number().int().min(100).default(60000),
  ALOFT_K8S_CREATE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  ALOFT_TASK_POD_IMAGE: z.string().default('aloft/aloft:latest'),
  ALOFT_TASK_POD_COMMAND: commandList,
  ALOFT_TASK_POD_NAMESPACE: z.string().default('default'),
  ALOFT_TASK_POD_DAGS_FOLDER: z.string().default('/app/dags'),
  ALOFT_POD_SECRET_ALLOWLIST: nameList('Secret'),
  ALOFT_POD_CONFIGMAP_ALLOWLIST: nameList('ConfigMap'),
  ALOFT_CALLBACK_TIMEOUT_MS: z.coerce.number().int().min(100).default(60000),
  ALOFT_KILL_GRACE_MS: z.coerce.number().int().min(0).default(5000),
  ALOFT_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2000),
  ALOFT_LOCK_MS: z.coerce.number().int().min(1000).default(30000),
  ALOFT_MAX_OUTPUT_BYTES: z.coerce.number().int().min(16).default(65536),
  ALOFT_TEMPLATE_TIMEOUT_MS: z.coerce.number().int().min(10).default(2000),
  ALOFT_TEMPLATE_MAX_BYTES: z.coerce.number().int().min(16).default(1048576),
  ALOFT_TEMPLATE_HEAP_MB: z.coerce.number().int().min(16).default(128),
  ALOFT_MAX_TAKEOVERS: z.coerce.number().int().min(0).max(100).default(3),
  ALOFT_POD_INFRA_REQUEUES: z.coerce.number().int().min(0).max(100).default(3),
});

export const WORKER_VARIABLES: readonly string[] = Object.keys(WORKER_ENV.shape);

export interface WorkerConfig extends ServiceConfig {
  dagsFolder: string;
  queues: string[];
  concurrency: number;
  workerId: string;
  host: string | undefined;
  httpPort: number;
  graceMs: number;
  lockMs: number;
  heartbeatMs: number;
  killGraceMs: number;
  callbackTimeoutMs: number;
  maxOutputBytes: number;
  maxTakeovers: number;
  /** Re-runs of a try whose pod the cluster ended, per instance, without using a retry. */
  podInfraRequeues: number;
  /** ALOFT_USER_CODE_USER: who runs user code. */
  userCodeUser: string | undefined;
  fnRunners: FnPoolOptions;
  templates: { timeoutMs: number; maxBytes: number; heapMb: number };
  kubernetes: {
    kubeconfig: string | undefined;
    context: string | undefined;
    defaultCluster: boolean;
    startupTimeoutMs: number;
    createConcurrency: number;
    orphanSweepMs: number;
  };
  taskPods: TaskPodDefaults;
  podReferences: PodReferenceAllowList;
  podsOnStandIn: boolean;
  /** Where tasks' connections and variables come from: the backends in order, the dir backend's folder, the store's keyring. */
  secrets: { order: ('env' | 'dir' | 'store')[]; dir: string | undefined; keys: string | undefined };
}

/** The worker's settings from its environment; a bad value is an error naming the variable. */
export function loadWorkerConfig(source: NodeJS.ProcessEnv): WorkerConfig {
  const env = parseEnv(WORKER_ENV, source);
  return {
    ...serviceConfig(env),
    dagsFolder: dagsFolder(env),
    queues: env.ALOFT_WORKER_QUEUES.split(',')
      .map((q) => q.trim())
      .filter(Boolean),
    concurrency: env.ALOFT_WORKER_CONCURRENCY,
    workerId: env.ALOFT_WORKER_ID,
    host: env.ALOFT_WORKER_HOST,
    httpPort: env.ALOFT_WORKER_HTTP_PORT,
    graceMs: env.ALOFT_WORKER_GRACE_MS,
    lockMs: env.ALOFT_LOCK_MS,
    heartbeatMs: env.ALOFT_HEARTBEAT_MS,
    killGraceMs: env.ALOFT_KILL_GRACE_MS,
    callbackTimeoutMs: env.ALOFT_CALLBACK_TIMEOUT_MS,
    maxOutputBytes: env.ALOFT_MAX_OUTPUT_BYTES,
    maxTakeovers: env.ALOFT_MAX_TAKEOVERS,
    podInfraRequeues: env.ALOFT_POD_INFRA_REQUEUES,
    userCodeUser: env.ALOFT_USER_CODE_USER,
    fnRunners: { warm: env.ALOFT_FN_RUNNERS_WARM, idleMs: env.ALOFT_FN_RUNNER_IDLE_MS, maxHeapMb: env.ALOFT_FN_RUNNER_HEAP_MB },
    templates: { timeoutMs: env.ALOFT_TEMPLATE_TIMEOUT_MS, maxBytes: env.ALOFT_TEMPLATE_MAX_BYTES, heapMb: env.ALOFT_TEMPLATE_HEAP_MB },
    kubernetes: {
      kubeconfig: env.ALOFT_K8S_KUBECONFIG,
      context: env.ALOFT_K8S_CONTEXT,
      // The Kubernetes client's own settings, read by its loadFromDefault.
      defaultCluster: Boolean(source['KUBECONFIG'] || source['KUBERNETES_SERVICE_HOST']),
      startupTimeoutMs: env.ALOFT_K8S_STARTUP_TIMEOUT_MS,
      createConcurrency: env.ALOFT_K8S_CREATE_CONCURRENCY,
      orphanSweepMs: env.ALOFT_K8S_ORPHAN_SWEEP_MS,
    },
    taskPods: {
      image: env.ALOFT_TASK_POD_IMAGE,
      command: env.ALOFT_TASK_POD_COMMAND,
      namespace: env.ALOFT_TASK_POD_NAMESPACE,
      dagsFolder: env.ALOFT_TASK_POD_DAGS_FOLDER,
    },
    podReferences: { secrets: env.ALOFT_POD_SECRET_ALLOWLIST, configMaps: env.ALOFT_POD_CONFIGMAP_ALLOWLIST },
    podsOnStandIn: env.ALOFT_K8S_STAND_IN === '1',
    secrets: { order: env.ALOFT_SECRETS_BACKENDS, dir: env.ALOFT_SECRETS_DIR, keys: env.ALOFT_SECRETS_KEYS },
  };
}

/** The options of how a worker runs tasks that come straight from the settings. */
type RunSettings = Pick<
  AloftWorkerOptions,
  | 'concurrency'
  | 'host'
  | 'lockMs'
  | 'heartbeatMs'
  | 'killGraceMs'
  | 'callbackTimeoutMs'
  | 'maxOutputBytes'
  | 'podReferences'
  | 'fnRunners'
  | 'templates'
  | 'maxTakeovers'
  | 'podInfraRequeues'
>;

/**
 * How the worker runs a task, as the worker and `aloft dags test` (packages/testing's Testbed)
 * both pass it, so a task behaves the same in both.
 */
export function runSettings(config: WorkerConfig): RunSettings {
  return {
    concurrency: config.concurrency,
    host: config.host,
    lockMs: config.lockMs,
    heartbeatMs: config.heartbeatMs,
    killGraceMs: config.killGraceMs,
    callbackTimeoutMs: config.callbackTimeoutMs,
    maxOutputBytes: config.maxOutputBytes,
    podReferences: config.podReferences,
    fnRunners: config.fnRunners,
    templates: config.templates,
    maxTakeovers: config.maxTakeovers,
    podInfraRequeues: config.podInfraRequeues,
  };
}
