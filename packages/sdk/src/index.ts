/**
 * @aloft/sdk — a typed client of the Aloft dashboard's REST API (/api/v1) for any Node
 * program: list and trigger DAGs, wait for runs, read and follow logs, submit ad-hoc jobs.
 * No dependencies beyond Node 20's fetch.
 */
export { AloftHttpClient } from './client.js';
export type { AloftHttpClientOptions, FollowOptions, InstanceOptions, TriggerOptions, WaitOptions } from './client.js';
export { AloftApiError, AloftConnectionError, AloftTimeoutError } from './errors.js';
export { readSse, type SseMessage } from './sse.js';
export type * from './types.js';
