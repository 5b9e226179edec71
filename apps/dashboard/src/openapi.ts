import { z } from 'zod';
import { ADMIN_SCHEMAS } from './routes/admin.js';
import { API_SCHEMAS } from './routes/schemas.js';
import { SECRET_SCHEMAS } from './routes/secrets.js';

type Op = { summary: string; role: 'viewer' | 'operator' | 'admin'; body?: z.ZodType; query?: z.ZodType };

const OPS: Record<string, Record<string, Op>> = {
  '/dags': { get: { summary: 'List DAGs (filters: tag, paused)', role: 'viewer' } },
  '/dags/{dagId}': {
    get: { summary: 'A DAG with its serialized structure', role: 'viewer' },
    patch: { summary: 'Pause or unpause', role: 'operator', body: API_SCHEMAS.Pause },
    delete: {
      summary: 'Delete a DAG whose file is gone, with all its runs, task instances and logs (409 while a file defines it or a run is not finished)',
      role: 'operator',
    },
  },
  '/datasets': { get: { summary: 'Datasets that tasks update (outlets) or DAGs are scheduled on: last update, producers, consumers', role: 'viewer' } },
  '/importErrors': { get: { summary: 'DAG files that failed to import, with file, line and message', role: 'viewer' } },
  '/dags/{dagId}/runs': {
    get: { summary: 'Runs, newest first (filters: state, runType)', role: 'viewer', query: API_SCHEMAS.RunFilter },
    post: { summary: "Trigger a run; conf is checked against the DAG's params", role: 'operator', body: API_SCHEMAS.Trigger },
  },
  '/dags/{dagId}/backfill': {
    post: {
      summary: 'Create the run of every scheduled logical date in [from, to] (skip existing ones unless rerun)',
      role: 'operator',
      body: API_SCHEMAS.Backfill,
    },
  },
  '/dags/{dagId}/clear': {
    post: {
      summary: 'Clear task instances of the runs in [from, to] (taskRegex: RE2 syntax, at most 500 characters, matched within 3 s; downstream, failedOnly)',
      role: 'operator',
      body: API_SCHEMAS.ClearRange,
    },
  },
  '/dags/{dagId}/grid': {
    get: {
      summary: 'Runs × tasks: one state per task of the latest runs; a mapped task summed up over its instances, with their counts in `mapped`',
      role: 'viewer',
      query: API_SCHEMAS.GridQuery,
    },
  },
  '/dags/{dagId}/runs/{runId}': { get: { summary: 'A run', role: 'viewer' } },
  '/dags/{dagId}/runs/{runId}/cancel': { post: { summary: 'Cancel a run', role: 'operator' } },
  '/dags/{dagId}/runs/{runId}/tasks': { get: { summary: 'Task instances of a run', role: 'viewer' } },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}': {
    get: {
      summary: 'A task instance (mapIndex: one instance of a mapped task; −1, the default, the task as a whole with `mapped` counts)',
      role: 'viewer',
      query: API_SCHEMAS.Instance,
    },
  },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}/instances': {
    get: {
      summary: "A mapped task's instances in map-index order, paged (filter: state), with `n` and the count of each state; none before it expands",
      role: 'viewer',
      query: API_SCHEMAS.InstanceQuery,
    },
  },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}/clear': {
    post: { summary: 'Clear (run again), optionally with downstream', role: 'operator', body: API_SCHEMAS.Clear },
  },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}/mark': {
    post: {
      summary: 'Mark success, failed or skipped: one instance of a mapped task with mapIndex, else every instance',
      role: 'operator',
      body: API_SCHEMAS.Mark,
    },
  },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}/logs': {
    get: {
      summary:
        "Log lines of a try, paged (a mapped task: of the instance mapIndex). Line numbers count from the try's first line, so past the log cap the answer may start (from) after the line asked for",
      role: 'viewer',
      query: API_SCHEMAS.LogQuery,
    },
  },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}/logs/stream': {
    get: {
      summary: 'Follow a log live (text/event-stream): `line` events {n, at, stream, line}, then `end` {try, state}',
      role: 'viewer',
      query: API_SCHEMAS.Follow,
    },
  },
  '/events': {
    get: {
      summary: 'Live transitions (text/event-stream), optionally of one DAG or run; event name = transition type',
      role: 'viewer',
      query: API_SCHEMAS.Watch,
    },
  },
  '/queues': { get: { summary: 'Jobs per queue (waiting, active, delayed) and workers listening', role: 'viewer' } },
  '/connections': { get: { summary: "Connections in Aloft's store: summaries without passwords or extra values; a viewer gets ids only", role: 'viewer' } },
  '/connections/{id}': {
    get: { summary: 'A connection without its password or extra values', role: 'operator' },
    put: {
      summary: 'Add or replace a connection, from `uri` or its fields; the password is sealed (ALOFT_SECRETS_KEYS) and never returned',
      role: 'operator',
      body: SECRET_SCHEMAS.ConnectionBody,
    },
    delete: { summary: 'Delete a connection', role: 'operator' },
  },
  '/variables': { get: { summary: "Variables in Aloft's store: values of non-secret ones only; a viewer gets keys only", role: 'viewer' } },
  '/variables/{key}': {
    put: {
      summary: 'Set a variable; a secret one (secret: true, or a name such as *_token) is sealed and never returned',
      role: 'operator',
      body: SECRET_SCHEMAS.VariableBody,
    },
    delete: { summary: 'Delete a variable', role: 'operator' },
  },
  '/secrets/audit': { get: { summary: 'Who created, changed or deleted a connection or variable, newest first (never a value)', role: 'operator' } },
  '/pools': { get: { summary: 'Pools with their slots: used by running instances, wanted by queued ones, open', role: 'viewer' } },
  '/pools/{name}': {
    put: { summary: 'Create or resize a pool (0 slots holds its tasks back)', role: 'operator', body: API_SCHEMAS.PoolSet },
    delete: { summary: 'Delete a pool (default_pool: back to unlimited); its queued tasks fail when claimed', role: 'operator' },
  },
  '/jobs': {
    post: {
      summary: 'Submit an ad-hoc command or kubernetesPod job: a run of the `adhoc` DAG, followed like any run',
      role: 'operator',
      body: API_SCHEMAS.Job,
    },
  },
  '/dags/{dagId}/runs/{runId}/tasks/{taskId}/output': {
    get: { summary: "The output of a task instance (a mapped task as a whole: its instances' outputs as a list)", role: 'viewer', query: API_SCHEMAS.Instance },
  },
  '/me': { get: { summary: 'Who is signed in, and their role', role: 'viewer' } },
  '/users': { get: { summary: 'Users', role: 'admin' }, post: { summary: 'Add a user', role: 'admin', body: ADMIN_SCHEMAS.NewUser } },
  '/tokens': {
    get: { summary: 'API tokens (without secrets)', role: 'admin' },
    post: { summary: 'Create an API token, shown once', role: 'admin', body: ADMIN_SCHEMAS.NewToken },
  },
  '/tokens/{name}': { delete: { summary: 'Revoke an API token', role: 'admin' } },
};

const ERROR = { type: 'object', required: ['error', 'field'], properties: { error: { type: 'string' }, field: { type: 'string' } } };

/** The OpenAPI 3.1 document of /api/v1, with request schemas from the same zod schemas the API validates with. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, ops] of Object.entries(OPS)) {
    const item: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(ops)) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      const query = op.query
        ? Object.entries((z.toJSONSchema(op.query, { io: 'input' }) as { properties?: Record<string, unknown> }).properties ?? {}).map(([name, schema]) => ({
            name,
            in: 'query',
            schema,
          }))
        : [];
      item[method] = {
        summary: op.summary,
        description: `Needs the ${op.role} role (session cookie or Bearer token).`,
        parameters: [...params, ...query],
        ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(op.body, { io: 'input' }) } } } } : {}),
        responses: {
          '200': { description: 'OK' },
          '400': { description: 'Bad input; the body names the field', content: { 'application/json': { schema: ERROR } } },
          '401': { description: 'Not signed in', content: { 'application/json': { schema: ERROR } } },
          '403': { description: 'Wrong role or cross-site request', content: { 'application/json': { schema: ERROR } } },
          '404': { description: 'Unknown id', content: { 'application/json': { schema: ERROR } } },
          '413': { description: 'Body over 100 kB', content: { 'application/json': { schema: ERROR } } },
          '415': { description: 'Charset other than UTF-8, or an unknown content encoding', content: { 'application/json': { schema: ERROR } } },
        },
      };
    }
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Aloft API', version: '1' },
    servers: [{ url: '/api/v1' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'aloft_session' } } },
    security: [{ bearer: [] }, { session: [] }],
    paths,
  };
}
