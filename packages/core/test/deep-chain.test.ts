import { afterEach, describe, expect, it } from 'vitest';
import { dag, DagImportError, takeDefinedDags, topologicalOrder, type TaskRef } from '../src/index.js';

/**
 * Deep DAGs validate without recursion: a 5,000-deep chain loads, rather than failing with
 * "Maximum call stack size exceeded" and no line or field.
 */
function linear(id: string, length: number) {
  const d = dag({ id });
  const tasks: TaskRef[] = [d.empty({ id: 't0' })];
  for (let i = 1; i < length; i++) tasks.push(tasks[i - 1]!.then(d.empty({ id: `t${i}` })));
  return { d, tasks };
}

afterEach(() => void takeDefinedDags());

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { v };
  return v;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('deep chains', () => {
  it('serializes a 10,000-task linear chain in order', () => {
    const s = linear('long', 10_000).d.serialize();
    expect(s.tasks).toHaveLength(10_000);
    const order = topologicalOrder(s);
    expect(order[0]).toBe('t0');
    expect(order.at(-1)).toBe('t9999');
  });

  it('reports a cycle through a 5,000-task chain by its field, shortened', () => {
    const { d, tasks } = linear('loop', 5000);
    tasks.at(-1)!.then(tasks[0]!);
    const err = thrown(() => d.serialize());
    expect(err).toBeInstanceOf(DagImportError);
    expect(err).toMatchObject({ field: 'upstream', message: 'dag "loop": cycle t0 → t1 → t2 → t3 → … → t4998 → t4999 → t0 (5000 tasks)' });
  });

  it('reports a param default nested 100,000 deep by its field, not a stack overflow', () => {
    const d = dag({ id: 'deep_param', params: { p: nested(100_000) as never } });
    d.empty({ id: 't' });
    const err = thrown(() => d.serialize());
    expect(err).toBeInstanceOf(DagImportError);
    expect(err).toMatchObject({ field: 'params', message: 'dag "deep_param": params.p: default must be JSON (Maximum call stack size exceeded)' });
  });

  it('reports a value no check covers, nested 100,000 deep, by its field', () => {
    const d = dag({ id: 'deep_tags', tags: [nested(100_000) as never] });
    d.empty({ id: 't' });
    expect(thrown(() => d.serialize())).toMatchObject({
      field: 'tags',
      message: 'dag "deep_tags": tags cannot be stored as JSON (Maximum call stack size exceeded)',
    });
  });
});
