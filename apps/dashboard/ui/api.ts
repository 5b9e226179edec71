/** The browser's view of /api/v1: the session cookie authenticates, Origin passes CSRF. */

import type {
  DagDetail,
  DagRun,
  DagSummary,
  DatasetInfo,
  Grid,
  ImportErrorRecord,
  InstancePage,
  LogLine as SdkLogLine,
  PoolInfo,
  TaskInstance,
} from '@aloft/sdk';

export type { DagDetail, DagRun, DagSummary, Grid, InstancePage, MappedSummary, ParamSpec, TaskInstance } from '@aloft/sdk';
/** A line as the log stream sends it: with its number. */
export type LogLine = SdkLogLine & { n: number };

/** A connection as the API shows it: a viewer gets the id only; never a password or extra values. */
export interface ConnectionSummary {
  id: string;
  type: string;
  host?: string;
  port?: number;
  login?: string;
  schema?: string;
  description?: string;
  hasPassword: boolean;
  extraKeys: string[];
  updatedAt: number;
  updatedBy: string;
}
export interface ConnectionInput {
  type: string;
  host?: string;
  port?: number;
  login?: string;
  password?: string;
  schema?: string;
  extra?: Record<string, unknown>;
  description?: string;
}
/** A variable as the API shows it: `value` only when it is not secret (and the reader may see values). */
export interface VariableSummary {
  key: string;
  secret: boolean;
  value?: string;
  description?: string;
  updatedAt: number;
  updatedBy: string;
}
export interface AuditEntry {
  at: number;
  actor: string;
  action: 'created' | 'updated' | 'deleted';
  kind: 'connection' | 'variable';
  id: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError(401, 'sign in first', 'session');
  }
  const data = (await res.json().catch(() => ({}))) as T & { error?: string; field?: string };
  if (!res.ok) throw new ApiError(res.status, data.error ?? res.statusText, data.field ?? '');
  return data;
}

const seg = encodeURIComponent;
const runPath = (dagId: string, runId: string) => `/dags/${seg(dagId)}/runs/${seg(runId)}`;
const tiPath = (dagId: string, runId: string, taskId: string) => `${runPath(dagId, runId)}/tasks/${seg(taskId)}`;
/** `?mapIndex=i` for one instance of a mapped task; nothing for −1 (unmapped, or the task as a whole). */
const mapQuery = (mapIndex: number, sep = '?') => (mapIndex >= 0 ? `${sep}mapIndex=${mapIndex}` : '');

export const api = {
  me: () => call<{ username: string; role: 'viewer' | 'operator' | 'admin' }>('GET', '/me'),
  dags: () => call<{ dags: DagSummary[] }>('GET', '/dags').then((r) => r.dags),
  importErrors: () => call<{ importErrors: ImportErrorRecord[] }>('GET', '/importErrors').then((r) => r.importErrors),
  dag: (id: string) => call<DagDetail>('GET', `/dags/${seg(id)}`),
  setPaused: (id: string, paused: boolean) => call('PATCH', `/dags/${seg(id)}`, { paused }),
  deleteDag: (id: string) => call<{ dagId: string; runs: number }>('DELETE', `/dags/${seg(id)}`),
  grid: (id: string, limit: number, offset: number) => call<Grid>('GET', `/dags/${seg(id)}/grid?limit=${limit}&offset=${offset}`),
  runs: (id: string, limit: number, offset: number) => call<{ runs: DagRun[]; total: number }>('GET', `/dags/${seg(id)}/runs?limit=${limit}&offset=${offset}`),
  run: (dagId: string, runId: string) => call<DagRun>('GET', runPath(dagId, runId)),
  trigger: (id: string, conf: Record<string, unknown>) => call<DagRun>('POST', `/dags/${seg(id)}/runs`, { conf }),
  cancel: (dagId: string, runId: string) => call<DagRun>('POST', `${runPath(dagId, runId)}/cancel`),
  tis: (dagId: string, runId: string) => call<{ taskInstances: TaskInstance[] }>('GET', `${runPath(dagId, runId)}/tasks`).then((r) => r.taskInstances),
  ti: (dagId: string, runId: string, taskId: string, mapIndex = -1) => call<TaskInstance>('GET', `${tiPath(dagId, runId, taskId)}${mapQuery(mapIndex)}`),
  instances: (dagId: string, runId: string, taskId: string, limit: number, offset: number, state?: string) =>
    call<InstancePage>('GET', `${tiPath(dagId, runId, taskId)}/instances?limit=${limit}&offset=${offset}${state ? `&state=${seg(state)}` : ''}`),
  output: (dagId: string, runId: string, taskId: string, mapIndex = -1) =>
    call<{ output: unknown }>('GET', `${tiPath(dagId, runId, taskId)}/output${mapQuery(mapIndex)}`).then((r) => r.output),
  clear: (dagId: string, runId: string, taskId: string, downstream: boolean) =>
    call<{ cleared: number }>('POST', `${tiPath(dagId, runId, taskId)}/clear`, { downstream }),
  mark: (dagId: string, runId: string, taskId: string, state: 'success' | 'failed', mapIndex = -1) =>
    call<TaskInstance>('POST', `${tiPath(dagId, runId, taskId)}/mark`, { state, mapIndex }),
  pools: () => call<{ pools: PoolInfo[] }>('GET', '/pools').then((r) => r.pools),
  datasets: () => call<{ datasets: DatasetInfo[] }>('GET', '/datasets').then((r) => r.datasets),
  connections: () => call<{ connections: ConnectionSummary[] }>('GET', '/connections').then((r) => r.connections),
  setConnection: (id: string, body: ConnectionInput) => call<ConnectionSummary>('PUT', `/connections/${seg(id)}`, body),
  deleteConnection: (id: string) => call('DELETE', `/connections/${seg(id)}`),
  variables: () => call<{ variables: VariableSummary[] }>('GET', '/variables').then((r) => r.variables),
  setVariable: (key: string, body: { value: string; secret?: boolean; description?: string }) => call<VariableSummary>('PUT', `/variables/${seg(key)}`, body),
  deleteVariable: (key: string) => call('DELETE', `/variables/${seg(key)}`),
  audit: () => call<{ audit: AuditEntry[] }>('GET', '/secrets/audit').then((r) => r.audit),
  logStreamUrl: (dagId: string, runId: string, taskId: string, tryNo: number, mapIndex = -1) =>
    `/api/v1${tiPath(dagId, runId, taskId)}/logs/stream?try=${tryNo}${mapQuery(mapIndex, '&')}`,
};
