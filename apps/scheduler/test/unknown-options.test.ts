import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReportedError } from '../src/parse-protocol.js';
import { readParseResult } from '../src/parse-result.js';
import { ParseRunner } from '../src/parse-runner.js';

/**
 * Options the DAG API does not know, and upstreams that are not tasks, are import errors
 * naming the line, the field and, when a known option is close, that option; the file is
 * the import error's own field and is not repeated in the message. Each file is imported by
 * a parse child, as the scheduler imports it.
 */
const ROOT = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');
const DIR = join(ROOT, '.test-results', `unknown-options-${process.pid}`);
const runner = new ParseRunner({ timeoutMs: 60_000, memoryMb: 1024, identity: undefined, env: process.env, settings: {} });
mkdirSync(DIR, { recursive: true });
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

let n = 0;
/** Writes the lines after an import line (so the first is line 2) and parses the file; its error, if any. */
async function parse(lines: string[]): Promise<{ file: string; error?: ReportedError | undefined }> {
  const file = join(DIR, `dag${++n}.ts`);
  writeFileSync(file, `import { dag } from '@aloft/core';\n${lines.join('\n')}\n`);
  const outcome = await runner.run(file, DIR);
  if ('stopped' in outcome) throw new Error(`the parse runner was stopped while parsing ${file}`);
  const result = 'payload' in outcome ? readParseResult(outcome.payload, file) : outcome;
  return { file, error: 'error' in result ? result.error : undefined };
}

const D = "const d = dag({ id: 'x' });";

// [what, lines after the import, line, field, message]
const CASES: [string, string[], number, string, string][] = [
  [
    'a misspelt DAG option',
    ["dag({ id: 'x', shedule: '@daily' }).empty({ id: 't' });"],
    2,
    'shedule',
    'dag "x": shedule is not a DAG option; did you mean `schedule`?',
  ],
  [
    'a DAG option in the wrong case',
    ["dag({ id: 'x', startdate: '2026-01-01' }).empty({ id: 't' });"],
    2,
    'startdate',
    'dag "x": startdate is not a DAG option; did you mean `startDate`?',
  ],
  ['a DAG option nothing is close to', ["dag({ id: 'x', colour: 'red' }).empty({ id: 't' });"], 2, 'colour', 'dag "x": colour is not a DAG option'],
  [
    'a misspelt default task argument',
    ["dag({ id: 'x', defaultArgs: { retires: 2 } }).empty({ id: 't' });"],
    2,
    'defaultArgs.retires',
    'dag "x": defaultArgs.retires is not a task argument; did you mean `defaultArgs.retries`?',
  ],
  [
    'an empty task',
    [D, "d.empty({ id: 't', triggerrule: 'all_done' });"],
    3,
    'triggerrule',
    'dag "x", task "t": triggerrule is not an option of empty tasks; did you mean `triggerRule`?',
  ],
  [
    'a command task',
    [D, "d.command({ id: 't', command: 'true', retry_delay: '1m' });"],
    3,
    'retry_delay',
    'dag "x", task "t": retry_delay is not an option of command tasks; did you mean `retryDelay`?',
  ],
  [
    'a sensor option on a command task',
    [D, "d.command({ id: 't', command: 'true', pokeInterval: '1s' });"],
    3,
    'pokeInterval',
    'dag "x", task "t": pokeInterval is not an option of command tasks',
  ],
  [
    'an fn task',
    [D, "d.fn({ id: 't', run: () => 1, pool_slots: 2 });"],
    3,
    'pool_slots',
    'dag "x", task "t": pool_slots is not an option of fn tasks; did you mean `poolSlots`?',
  ],
  [
    'a branch task',
    [D, "d.branch({ id: 't', run: () => [], trigger_rule: 'all_done' });"],
    3,
    'trigger_rule',
    'dag "x", task "t": trigger_rule is not an option of branch tasks; did you mean `triggerRule`?',
  ],
  [
    'a shortCircuit task',
    [D, "d.shortCircuit({ id: 't', run: () => true, outlet: ['a'] });"],
    3,
    'outlet',
    'dag "x", task "t": outlet is not an option of shortCircuit tasks; did you mean `outlets`?',
  ],
  [
    'a kubernetesPod task',
    [D, "d.kubernetesPod({ id: 't', image: 'busybox', imagePullPolicyy: 'Always' });"],
    3,
    'imagePullPolicyy',
    'dag "x", task "t": imagePullPolicyy is not an option of kubernetesPod tasks; did you mean `imagePullPolicy`?',
  ],
  [
    'a triggerDagRun task',
    [D, "d.triggerDagRun({ id: 't', dagId: 'other', waitForCompletition: true });"],
    3,
    'waitForCompletition',
    'dag "x", task "t": waitForCompletition is not an option of triggerDagRun tasks; did you mean `waitForCompletion`?',
  ],
  [
    'a sensor',
    [D, "d.sensor({ id: 't', poke: () => true, poke_interval: '1s' });"],
    3,
    'poke_interval',
    'dag "x", task "t": poke_interval is not an option of sensor tasks; did you mean `pokeInterval`?',
  ],
  [
    'a file sensor',
    [D, "d.fileSensor({ id: 't', path: '/data/_SUCCESS', softfail: true });"],
    3,
    'softfail',
    'dag "x", task "t": softfail is not an option of fileSensor tasks; did you mean `softFail`?',
  ],
  [
    'an HTTP sensor',
    [D, "d.httpSensor({ id: 't', url: 'https://example.com', reqestTimeout: '1s' });"],
    3,
    'reqestTimeout',
    'dag "x", task "t": reqestTimeout is not an option of httpSensor tasks; did you mean `requestTimeout`?',
  ],
  [
    'an external task sensor',
    [D, "d.externalTaskSensor({ id: 't', externalDagId: 'other', execution_delta: '1h' });"],
    3,
    'execution_delta',
    'dag "x", task "t": execution_delta is not an option of externalTaskSensor tasks; did you mean `executionDelta`?',
  ],
  [
    'a task group',
    [D, "d.group({ id: 'g', toolTip: 'x' }, (g) => g.empty({ id: 't' }));"],
    3,
    'toolTip',
    'dag "x", group "g": toolTip is not a task group option; did you mean `tooltip`?',
  ],
  [
    "a task group's default arguments",
    [D, "d.group({ id: 'g', defaultArgs: { queu: 'q' } }, (g) => g.empty({ id: 't' }));"],
    3,
    'defaultArgs.queu',
    'dag "x", group "g": defaultArgs.queu is not a task argument; did you mean `defaultArgs.queue`?',
  ],
  [
    'a task in a group',
    [D, "d.group({ id: 'g' }, (g) => {", "  g.command({ id: 't', command: 'true', retires: 1 });", '});'],
    4,
    'retires',
    'dag "x", task "g.t": retires is not an option of command tasks; did you mean `retries`?',
  ],
  [
    'an upstream given by its id',
    [D, "d.command({ id: 'extract', command: 'true' });", "d.command({ id: 'load', command: 'true', upstream: ['extract'] });"],
    4,
    'upstream',
    'dag "x", task "load": upstream[0] is the string "extract": pass the task itself (const extract = d.command({ id: \'extract\', … }), then upstream: [extract])',
  ],
  [
    'an upstream that is one string',
    [D, "d.command({ id: 'extract', command: 'true' });", "d.command({ id: 'load', command: 'true', upstream: 'extract' });"],
    4,
    'upstream',
    'dag "x", task "load": upstream is the string "extract": pass the task itself (const extract = d.command({ id: \'extract\', … }), then upstream: [extract])',
  ],
  [
    'an upstream that is a number',
    [D, "const e = d.command({ id: 'extract', command: 'true' });", "d.command({ id: 'load', command: 'true', upstream: [e, 3] });"],
    4,
    'upstream',
    'dag "x", task "load": upstream[1] is not a task or a task group (got 3)',
  ],
  [
    'an upstream that is a plain object',
    [D, "d.command({ id: 'extract', command: 'true' });", "d.command({ id: 'load', command: 'true', upstream: [{ id: 'extract' }] });"],
    4,
    'upstream',
    'dag "x", task "load": upstream[0] is not a task or a task group (got {"id":"extract"})',
  ],
  [
    'an upstream of another DAG',
    ["const other = dag({ id: 'other' }).empty({ id: 'numbrs' });", D, "d.empty({ id: 'sum', upstream: [other] });"],
    4,
    'upstream',
    'dag "x", task "sum": upstream "numbrs" is not a task of this DAG',
  ],
];

describe('unknown options and upstreams that are not tasks', () => {
  it.each(CASES)('%s', async (_what, lines, line, field, message) => {
    const { file, error } = await parse(lines);
    expect(error).toEqual({ message, line, field });
    expect(error?.message).not.toContain(file);
  });

  it('names a misspelt runInPod override under runInPod', async () => {
    const { error } = await parse([D, "d.command({ id: 't', command: 'true', runInPod: { nodeSelecter: { pool: 'big' } } });"]);
    expect(error?.field).toBe('runInPod.nodeSelecter');
    expect(error?.message).toMatch(/^dag "x", task "t": runInPod\.nodeSelecter is not a pod override \(image, .*\); did you mean `runInPod\.nodeSelector`\?$/);
  });

  it('reports every unknown option of a file, each at its line', async () => {
    const { error } = await parse(["const d = dag({ id: 'x', shedule: '@daily' });", "d.empty({ id: 'a', retires: 1 });"]);
    expect(error).toMatchObject({ line: 2, field: 'shedule' });
    expect(error?.message).toBe(
      'dag "x": shedule is not a DAG option; did you mean `schedule`?; also: line 3: dag "x", task "a": retires is not an option of empty tasks; did you mean `retries`?',
    );
  });

  it('accepts every option of every operator, outlets on a kubernetesPod task and a single task or group as upstream', async () => {
    const { error } = await parse([
      "const d = dag({ id: 'x', description: 'd', schedule: '@daily', startDate: '2026-01-01', catchup: false, tags: ['a'], defaultArgs: { retries: 1, sla: '1h' } });",
      "const a = d.empty({ id: 'a', triggerRule: 'all_done', outlets: ['s3://b/a'] });",
      "const p = d.kubernetesPod({ id: 'p', image: 'busybox', outlets: ['warehouse.p'], upstream: a, imagePullPolicy: 'Always', getLogs: false });",
      "const g = d.group({ id: 'g', tooltip: 't', defaultArgs: { queue: 'q' } }, (g) => g.command({ id: 'c', command: 'true', cwd: '/tmp', skipExitCode: 3 }));",
      "d.fileSensor({ id: 'f', path: '/x', mode: 'reschedule', softFail: true, upstream: [g, p] });",
      "d.triggerDagRun({ id: 't', dagId: 'other', waitForCompletion: true, pokeInterval: '1s' });",
    ]);
    expect(error).toBeUndefined();
  });
});
