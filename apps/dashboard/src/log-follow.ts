import type { Response } from 'express';
import { FINISHED_TASK_STATES, type AloftClient, type TaskInstanceKey, type TaskState } from '@aloft/core';
import { openSse, type EventHub } from './live.js';

export interface LogFollowOptions {
  client: AloftClient;
  /** Wakes the loop as soon as the instance changes state, rather than at the next poll. */
  hub: EventHub;
  key: TaskInstanceKey;
  /** The try whose log is followed. */
  tryNo: number;
  /** The first line to send (absolute line number). */
  from: number;
  /** How often the log is read for new lines while nothing wakes the loop. */
  pollMs: number;
}

/** Lines read per round; a full round is followed at once by the next. */
const CHUNK = 1000;

/**
 * Follows one try's log as server-sent events: `line` events with their absolute numbers
 * `n`, then one `end` event with the try's final state (`retried` when a later try exists)
 * once the log is read to its end. Returns when that is sent or the client goes away.
 */
export async function followLog(res: Response, o: LogFollowOptions): Promise<void> {
  const { client, key, tryNo } = o;
  let n = o.from;
  let closed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = o.hub.subscribe((e) => {
    if (e.dagId === key.dagId && e.runId === key.runId && e.taskId === key.taskId && e.mapIndex === key.mapIndex) wake?.();
  });
  const send = openSse(res, () => {
    closed = true;
    unsubscribe();
    wake?.();
  });
  // A try's number is given when it is queued (or waits for its retry delay); it is over
  // once a later try exists (`retried`: a retry or a clear) or it finished for good.
  const over = async (): Promise<{ state: TaskState | 'retried' } | undefined> => {
    const { state, try: current } = await client.getTryState(key.dagId, key.runId, key.taskId, key.mapIndex);
    if (current > tryNo) return { state: 'retried' };
    if (state && FINISHED_TASK_STATES.has(state)) return { state };
    return undefined;
  };
  while (!closed) {
    const end = await over();
    const { from, lines } = await client.readTryLog(key, tryNo, n, CHUNK);
    // Lines trimmed away past the log's cap before they were sent are skipped, not misnumbered.
    n = from;
    for (const l of lines) send('line', { n: n++, ...l });
    if (lines.length === CHUNK) continue;
    if (end) {
      send('end', { try: tryNo, state: end.state });
      break;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, o.pollMs);
    });
    wake = undefined;
  }
  res.end();
}
