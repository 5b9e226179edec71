import type { RedisQueueBackend } from 'bullmq';

/**
 * What BullMQ's own moveToFinished would be called with to complete `job`, split the way
 * Store.finishAndNext takes it, built by the backend itself (so the layout stays BullMQ's):
 * the script's keys, its arguments, and the finishedOn timestamp among them.
 */
export function completionArgs(
  backend: RedisQueueBackend,
  job: Parameters<RedisQueueBackend['moveToCompletedArgs']>[0],
  removeOnComplete: Parameters<RedisQueueBackend['moveToCompletedArgs']>[2],
  token: string,
  fetchNext: boolean,
): { keys: unknown[]; args: unknown[]; finishedOn: number } {
  const all = backend.moveToCompletedArgs(job, undefined, removeOnComplete, token, fetchNext);
  const nk = backend.moveToFinishedKeys.length;
  return { keys: all.slice(0, nk), args: all.slice(nk), finishedOn: Number(all[nk + 1]) };
}
