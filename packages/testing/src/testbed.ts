import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  createRedis,
  REDACT_PATHS,
  secretsBackends,
  Store,
  userCodeDecision,
  userCodeIdentity,
  type ImportErrorRecord,
  type Logger,
  type SecretsBackend,
  type SerializedDag,
} from '@aloft/core';
import { freePort, startRedis, type RedisHandle } from '@aloft/core/testing';
import { startEmulator, type Emulator } from '@aloft/k8s-emulator';
import { listDagFiles, DagProcessor } from '@aloft/scheduler/dag-processor';
import { loadSchedulerConfig, parseSettings } from '@aloft/scheduler/config';
import { Scheduler } from '@aloft/scheduler/scheduler';
import { loadWorkerConfig, runSettings, type WorkerConfig } from '@aloft/worker/config';
import { AloftWorker } from '@aloft/worker/worker';
import { DagFileError, UnknownDagError } from './errors.js';

export interface TestbedOptions {
  /**
   * The environment the scheduler and the worker would read (default `process.env`): the
   * settings of parse children and tasks, the secrets backends (ALOFT_CONN_*, ALOFT_VAR_*,
   * ALOFT_SECRETS_DIR), ALOFT_USER_CODE_USER, and whether a Kubernetes cluster is configured.
   * Its REDIS_URL is not used: a testbed has a redis-server of its own.
   */
  env?: NodeJS.ProcessEnv;
  /** Where the testbed logs (default: warnings and errors, as JSON on stderr). */
  logger?: Logger;
  /**
   * Secrets the local pod stand-in holds, by name (`{ warehouse: { password: '…' } }`), in the
   * task pods' namespace; unused when pods go to a configured cluster.
   */
  podSecrets?: Record<string, Record<string, string>>;
}

/** Where a testbed's pod tasks go. */
export type PodTarget = 'none' | 'cluster' | 'stand-in';

/**
 * A throw-away Aloft in this process, for one DAG run: its own redis-server, the
 * scheduler's DAG processor and sweep, and an AloftWorker, each the real one. DAG files are
 * parsed and stored as the scheduler does (parse children, the same checks); runs are
 * created with the store's createRun and driven by the same Lua scripts. `stop()` ends
 * everything it started, and is safe to call twice.
 */
export class Testbed {
  readonly store: Store;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly folder: string;
  readonly #redis: RedisHandle;
  readonly #processor: DagProcessor;
  readonly #scheduler: Scheduler;
  readonly #connections: Redis[] = [];
  readonly #podSecrets: Record<string, Record<string, string>>;
  #worker: AloftWorker | undefined;
  #emulator: Emulator | undefined;
  #scratch: string | undefined;
  #stopped = false;
  #pods: PodTarget = 'none';

  private constructor(redis: RedisHandle, folder: string, o: TestbedOptions) {
    this.#redis = redis;
    this.folder = folder;
    this.env = o.env ?? process.env;
    this.#podSecrets = o.podSecrets ?? {};
    this.logger =
      o.logger ??
      pino({ name: 'dag-test', level: this.env['ALOFT_LOG_LEVEL'] ?? 'warn', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination(2));
    // Read first: a setting the scheduler refuses throws before any connection is made.
    const config = loadSchedulerConfig({ ...this.env, ALOFT_DAGS_FOLDER: folder });
    this.store = new Store(this.#connect(), 'aloft');
    this.#processor = new DagProcessor({ ...parseSettings(config), store: this.store, logger: this.logger, env: this.env });
    this.#scheduler = new Scheduler({
      store: this.store,
      redis: this.store.redis,
      processor: this.#processor,
      logger: this.logger,
      registry: new Registry(),
      loopMs: 100,
      sweepMs: 1000,
      scanMs: 60_000,
      maxCatchupRuns: 1,
      retentionMaxRuns: config.retentionMaxRuns,
      retentionMaxAgeMs: config.retentionMaxAgeMs,
    });
  }

  /** Where the worker sends pod tasks: decided when it starts, `none` for a DAG without them. */
  get pods(): PodTarget {
    return this.#pods;
  }

  /** Starts the redis-server of a testbed whose DAG files are in `folder`. */
  static async start(folder: string, o: TestbedOptions = {}): Promise<Testbed> {
    // A port of its own: startRedis would otherwise use REDIS_URL, which may be a real Aloft's.
    const redis = await startRedis({ port: await freePort() });
    try {
      return new Testbed(redis, resolve(folder), o);
    } catch (err) {
      // A setting the scheduler refuses: nothing else was started.
      await redis.stop();
      throw err;
    }
  }

  #connect(): Redis {
    const r = createRedis(this.#redis.url);
    this.#connections.push(r);
    return r;
  }

  /**
   * Parses and stores `file` as the scheduler does and returns its DAG `dagId`, or its only
   * DAG; a file that does not import, or declares no such DAG, is an error naming it.
   */
  async loadFile(file: string, dagId?: string): Promise<SerializedDag> {
    const path = resolve(file);
    if (!existsSync(path)) throw new DagFileError(path, `DAG file ${path} does not exist`);
    await this.#processor.scanFiles([path]);
    await this.#importError(path);
    const dags = (await this.store.listDags()).filter((d) => d.dag.fileloc === path).map((d) => d.dag);
    if (dagId === undefined) {
      if (dags.length === 1) return dags[0]!;
      throw new DagFileError(
        path,
        dags.length === 0 ? `${path} declares no DAG` : `${path} declares ${dags.length} DAGs (${dags.map((d) => d.id).join(', ')}): name one`,
      );
    }
    const found = dags.find((d) => d.id === dagId);
    if (!found)
      throw new UnknownDagError(
        dagId,
        path,
        dags.map((d) => d.id),
      );
    return found;
  }

  /**
   * Finds the DAG `dagId` in the folder: the files whose text names it are parsed first
   * (usually one), and only when none declares it every other file too, since an id can be
   * computed. Unknown: an error naming the folder, the DAGs it holds and its import errors.
   */
  async loadFromFolder(dagId: string): Promise<SerializedDag> {
    const files = listDagFiles(this.folder);
    const named = files.filter((f) => readFileSync(f, 'utf8').includes(dagId));
    await this.#processor.scanFiles(named);
    let rec = await this.store.getDag(dagId);
    if (!rec) {
      await this.#processor.scanFiles(files.filter((f) => !named.includes(f)));
      rec = await this.store.getDag(dagId);
    }
    if (rec && !rec.missing) return rec.dag;
    const ids = (await this.store.listDagIds()).sort();
    const errors = await this.store.listImportErrors();
    throw new UnknownDagError(dagId, this.folder, ids, errors);
  }

  async #importError(file: string): Promise<void> {
    const err = (await this.store.listImportErrors()).find((e) => e.file === file);
    if (err) throw DagFileError.fromImportError(err);
  }

  /**
   * Starts the worker for the DAG's queues. Pod tasks go where the quick start sends them:
   * to the cluster in the environment's kubeconfig (KUBECONFIG, ALOFT_K8S_KUBECONFIG,
   * in-cluster, ~/.kube/config), or else to a local stand-in (the Kubernetes API emulator,
   * started here) that runs each pod's command as a local process.
   */
  async startWorker(dag: SerializedDag): Promise<void> {
    if (this.#worker || this.#stopped) return;
    const config = this.workerConfig();
    const identity = userCodeIdentity(config.userCodeUser);
    let kubernetes = config.kubernetes;
    let taskPods = config.taskPods;
    if (dag.tasks.some((t) => t.kind === 'kubernetesPod' || t.runInPod)) {
      if (clusterConfigured(this.env)) this.#pods = 'cluster';
      else {
        const runAs = userCodeDecision(identity, [{ path: dag.fileloc, kind: 'file' }]).identity;
        this.#emulator = await startEmulator({ keepRecords: 1000, runAs, namespaces: [config.taskPods.namespace] });
        for (const [name, data] of Object.entries(this.#podSecrets)) this.#emulator.addSecret(config.taskPods.namespace, name, data);
        this.#scratch = mkdtempSync(join(tmpdir(), 'aloft-dag-test-'));
        const kubeconfig = join(this.#scratch, 'kubeconfig');
        this.#emulator.writeKubeconfig(kubeconfig);
        kubernetes = { ...kubernetes, kubeconfig, context: undefined, defaultCluster: false };
        this.#pods = 'stand-in';
        // runInPod tasks: the stand-in runs the pod's command here, so the "task image" is this
        // checkout's run-task, reading the DAG folder in place (unless the environment says otherwise).
        if (!this.env['ALOFT_TASK_POD_COMMAND']) taskPods = { ...taskPods, command: LOCAL_RUN_TASK, dagsFolder: this.folder };
      }
    }
    const queues = [...new Set([...dag.tasks.map((t) => t.queue), dag.callbackQueue ?? 'default'])];
    this.#worker = new AloftWorker({
      store: this.store,
      env: this.env,
      connection: () => this.#connect(),
      logger: this.logger,
      ...runSettings(config),
      queues,
      workerId: 'dag-test',
      kubernetes,
      dagsFolder: this.folder,
      taskPods,
      podsOnStandIn: this.#pods === 'stand-in',
      userCode: identity,
      secrets: this.secrets(config),
      registry: new Registry(),
    });
    this.#worker.start();
  }

  /** The worker's settings from the environment, as a worker would read them, with this testbed's DAG folder. */
  workerConfig(): WorkerConfig {
    return loadWorkerConfig({ ...this.env, ALOFT_DAGS_FOLDER: this.folder });
  }

  /** The worker's secrets backends, over this testbed's store. */
  secrets(config: WorkerConfig): SecretsBackend[] {
    return secretsBackends(this.store.redis, this.store.keys, { ...config.secrets, env: this.env });
  }

  /** The scheduler's part while a run goes on: finish starting big runs, and the sweep. */
  async schedulerStep(sweep: boolean): Promise<void> {
    await this.store.continueRuns();
    if (sweep) await this.#scheduler.sweep();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#scheduler.stop();
    this.#processor.stop();
    await this.#worker?.close(0).catch((err: unknown) => this.logger.warn({ err }, 'the worker did not close cleanly'));
    await this.#emulator?.stop();
    for (const r of this.#connections) r.disconnect();
    await this.#redis.stop();
    if (this.#scratch) rmSync(this.#scratch, { recursive: true, force: true });
  }
}

/** The worker's entrypoint of a task in its own pod, run with this Node from the checkout. */
const LOCAL_RUN_TASK = [
  process.execPath,
  '--conditions=aloft-source',
  '--import',
  fileURLToPath(import.meta.resolve('tsx')),
  fileURLToPath(import.meta.resolve('@aloft/worker/run-task')),
];

/** As the quick start decides (scripts/up.mjs): a kubeconfig or an in-cluster service account. */
function clusterConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env['KUBECONFIG'] || env['ALOFT_K8S_KUBECONFIG'] || env['KUBERNETES_SERVICE_HOST']) return true;
  return existsSync(join(env['HOME'] ?? homedir(), '.kube', 'config'));
}

export type { ImportErrorRecord };
