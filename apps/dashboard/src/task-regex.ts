import { Worker } from 'node:worker_threads';

/** The longest taskRegex accepted (the API's schema says so too). */
export const TASK_REGEX_MAX_LENGTH = 500;
/**
 * How long one pattern may take to compile and match, counted from when its thread runs:
 * starting a thread takes seconds on a loaded machine, which is no fault of the pattern.
 */
export const TASK_REGEX_TIMEOUT_MS = 3000;
/** How long a thread may take to start at all before the request gives up. */
const THREAD_START_TIMEOUT_MS = 30_000;
/** Patterns matched at once; more are refused (429) rather than queued. */
const MAX_RUNNING = 4;

/** A taskRegex that cannot be used; the API answers 4xx naming `taskRegex`. */
export class TaskRegexError extends Error {
  readonly field = 'taskRegex';
  constructor(
    message: string,
    readonly status: 400 | 429 = 400,
  ) {
    super(message);
  }
}

const WORKER = new URL('./task-regex-worker.mjs', import.meta.url);
let running = 0;

/**
 * The ids a user's taskRegex matches (unanchored, like RegExp.test), decided off the
 * dashboard's event loop. The pattern is RE2 syntax, matched by re2js (a port of RE2:
 * time linear in the input, so no pattern backtracks exponentially; no lookaround or
 * backreferences), in a worker thread stopped after TASK_REGEX_TIMEOUT_MS, which bounds
 * even a pattern that is slow to compile (counted repetitions expand it).
 */
export async function matchTaskIds(pattern: string, ids: readonly string[]): Promise<string[]> {
  if (running >= MAX_RUNNING) throw new TaskRegexError(`${MAX_RUNNING} task patterns are being matched already; try again in a few seconds`, 429);
  running++;
  const worker = new Worker(WORKER, { workerData: { pattern, ids }, execArgv: [], resourceLimits: { maxOldGenerationSizeMb: 128 } });
  try {
    const answer = await new Promise<{ matched?: string[]; error?: string }>((resolve, reject) => {
      let timer = setTimeout(
        () =>
          reject(
            new TaskRegexError(`the dashboard is too busy to match task patterns (a thread did not start in ${THREAD_START_TIMEOUT_MS} ms); try again`, 429),
          ),
        THREAD_START_TIMEOUT_MS,
      );
      worker.once('online', () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => resolve({ error: `took longer than ${TASK_REGEX_TIMEOUT_MS} ms to compile and match ${ids.length} task id(s); simplify it` }),
          TASK_REGEX_TIMEOUT_MS,
        );
      });
      worker.once('message', (m: { matched?: string[]; error?: string }) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.once('error', (err: Error & { code?: string }) => {
        clearTimeout(timer);
        // A pattern whose program outgrows the thread's heap is the pattern's fault.
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') resolve({ error: 'it needs too much memory to compile; simplify it' });
        else reject(err);
      });
    });
    if (answer.error !== undefined)
      throw new TaskRegexError(`taskRegex ${JSON.stringify(pattern.slice(0, 100))} cannot be used (RE2 syntax, as in Go): ${answer.error}`);
    return answer.matched ?? [];
  } finally {
    running--;
    void worker.terminate();
  }
}

/** A JavaScript RegExp source matching exactly these ids (none: nothing), for APIs that take a pattern. */
export function exactly(ids: readonly string[]): string {
  if (ids.length === 0) return '(?!)';
  return `^(?:${ids.map((id) => id.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|')})$`;
}
