import { nextPokeDelay, type HttpSensorResponse, type SerializedTask, type Store, type TaskInstanceKey, type TemplateInfo } from '@aloft/core';
import { poke } from './sensor-checks.js';
import type { TaskTemplates } from '../template-renderer.js';
import type { Executor, TaskRequest } from './executor.js';
import type { FnHost } from './fn-host.js';
import { fnContext } from './task-env.js';
import type { ExecEnv, ExecResult, RunningTask } from './types.js';

export interface SensorInput {
  task: SerializedTask;
  info: TemplateInfo;
  /** Renders the check's templated fields (path, url, headers, body). */
  templates: TaskTemplates;
  key: TaskInstanceKey;
  store: Store;
  /** Runs the task's function from the DAG file isolated (fn pool); `response` goes to an HTTP sensor's responseCheck. */
  runFunction: (response?: HttpSensorResponse) => RunningTask;
  /** Counts each poke (metrics). */
  onPoke?: (() => void) | undefined;
}

/**
 * A sensor's try: pokes until the condition holds, a check ends it, or the timeout passes.
 * The timeout counts from the instance's first poke (kept on the instance, so it spans
 * reschedules, worker takeovers and retries, as in Airflow) and fails without a retry, or
 * skips with softFail. In poke mode the try waits between pokes on this worker; in
 * reschedule mode it pokes once and, if not done, ends with outcome `reschedule` and the
 * time of the next poke, which the worker turns into up_for_reschedule and a delayed job.
 */
export function runSensor(input: SensorInput, env: ExecEnv): RunningTask {
  const spec = input.task.sensor!;
  const abort = new AbortController();
  let current: RunningTask | undefined;
  let wake: (() => void) | undefined;

  const run = async (): Promise<ExecResult> => {
    const { firstPokeAt, pokes: before } = await input.store.sensorProgress(input.key);
    let pokes = before;
    for (;;) {
      if (abort.signal.aborted) return cancelled();
      const answer = await poke(
        {
          check: spec.check,
          info: input.info,
          templates: input.templates,
          store: input.store,
          softFail: spec.softFail,
          runFunction: input.runFunction,
          signal: abort.signal,
          onRunning: (r) => (current = r),
        },
        env,
      );
      pokes++;
      input.onPoke?.();
      if (abort.signal.aborted) return cancelled();
      if ('outcome' in answer) return answer;
      if (answer.done) {
        env.log.system(`poke ${pokes}: the condition holds`);
        return { outcome: 'success', outputJson: answer.outputJson };
      }
      const elapsed = Date.now() - firstPokeAt;
      if (elapsed >= spec.timeoutMs) {
        const reason = `sensor timed out: the condition did not hold within ${spec.timeoutMs} ms of the first poke (${pokes} pokes)`;
        return spec.softFail ? { outcome: 'skipped', reason: `${reason}; softFail skips it` } : { outcome: 'failed', reason, noRetry: true };
      }
      const delay = nextPokeDelay(spec, pokes, elapsed);
      env.log.system(`poke ${pokes}: not yet; next poke in ${delay} ms${spec.mode === 'reschedule' ? ' (rescheduled, holding no worker slot)' : ''}`);
      if (spec.mode === 'reschedule') return { outcome: 'reschedule', nextPokeAt: Date.now() + delay, pokes };
      await input.store.setTiFields(input.key, { pokes: String(pokes), lastPokeAt: String(Date.now()) });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  const cancelled = (): ExecResult => ({ outcome: 'failed', reason: String(abort.signal.reason ?? 'cancelled') });

  return {
    result: run().catch((err: unknown) =>
      abort.signal.aborted ? cancelled() : { outcome: 'failed', reason: err instanceof Error ? err.message : String(err) },
    ),
    cancel: async (reason) => {
      abort.abort(reason);
      wake?.();
      await current?.cancel(reason);
    },
  };
}

export interface SensorExecutorOptions {
  store: Store;
  fnHost: Pick<FnHost, 'run'>;
  /** Counts each poke by mode (metrics). */
  onPoke?: ((mode: NonNullable<SerializedTask['sensor']>['mode']) => void) | undefined;
}

/** sensor tasks (runSensor); a check with a function runs it in the fn host. */
export class SensorExecutor implements Executor {
  constructor(private readonly o: SensorExecutorOptions) {}

  start({ dag, task, info, templates, key }: TaskRequest, env: ExecEnv): Promise<RunningTask> {
    const { fnHost, onPoke } = this.o;
    return Promise.resolve(
      runSensor(
        {
          task,
          info,
          templates,
          key,
          store: this.o.store,
          runFunction: (response) => fnHost.run({ type: 'run', file: dag.fileloc, dagId: dag.id, taskId: task.id, ctx: fnContext(dag, info), response }, env),
          onPoke: onPoke && (() => onPoke(task.sensor!.mode)),
        },
        env,
      ),
    );
  }
}
