import { afterEach, describe, expect, it } from 'vitest';
import { dag, DagImportError, takeDefinedDags, topologicalOrder, type TaskRef } from '../src/index.js';

/**
 * Deep DAGs validate without recursion (issue 22: a 5,000-deep chain failed with "Maximum
 * call stack size exceeded" and no line or field).
 */
function linear(id: string, length: number) {
  const d = dag({ id });
  const tasks: TaskRef[] = [d.empty({ id: 't0' })];
  for (let i = 1; i < length; i++) tasks.push(tasks[i - 1]!.then(d.empty({ id: `t${i}` })));
  return { d, tasks };
}

afterEach(() => void takeDefinedDags());

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
    let err: unknown;
    try {
      d.serialize();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DagImportError);
    expect(err).toMatchObject({ field: 'upstream', message: 'dag "loop": cycle t0 → t1 → t2 → t3 → … → t4998 → t4999 → t0 (5000 tasks)' });
  });
});
