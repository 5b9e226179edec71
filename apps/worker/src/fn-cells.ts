/**
 * How the worker and a function runner agree, without a message, on whether a task handed
 * to the runner has started. Each runner shares an Int32Array of CELLS cells with its worker:
 * cell 0 counts the tasks the runner has started; each other cell belongs to one task handed
 * to the runner and holds the task's tag while it is queued, STARTED once the runner took it,
 * or WITHDRAWN once the worker took it back to run elsewhere. Both sides change a cell with
 * one compare-and-exchange from the tag, so exactly one of "start" and "withdraw" wins,
 * even when the runner is stuck in a function and reads no messages.
 */
export const CELLS = 64;
export const STARTED = -1;
export const WITHDRAWN = 0;
/** Index of the counter of tasks started. */
export const PROGRESS = 0;
