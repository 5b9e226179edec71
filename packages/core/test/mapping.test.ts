import { describe, expect, it } from 'vitest';
import { summarizeMapped, taskStatesOfRun } from '../src/model/mapping.js';

describe('a run state hash as one state per task (what the grid shows)', () => {
  it('keeps unmapped tasks, sums up expanded mapped tasks, and counts their instances by state', () => {
    const got = taskStatesOfRun({
      'extract:-1': 'success',
      'square:0': 'success',
      'square:1': 'running',
      'square:2': 'failed',
      'square:10': 'success',
      'total:-1': 'none',
      'ns:with:colons:-1': 'queued',
      'ns:with:colons:0': 'skipped',
    });
    expect(got.tis).toEqual({ extract: 'success', square: 'running', total: 'none', 'ns:with:colons': 'skipped' });
    expect(got.mapped).toEqual({
      square: { n: 4, states: { success: 2, running: 1, failed: 1 } },
      'ns:with:colons': { n: 1, states: { skipped: 1 } },
    });
  });

  it('a mapped task not yet expanded is its instance −1; failed outranks success once nothing runs', () => {
    expect(taskStatesOfRun({ 'each:-1': 'scheduled' })).toEqual({ tis: { each: 'scheduled' }, mapped: {} });
    expect(summarizeMapped(['success', 'failed', 'skipped'])).toBe('failed');
    expect(summarizeMapped(['success', 'up_for_retry'])).toBe('up_for_retry');
  });
});
