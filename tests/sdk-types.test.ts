/**
 * The SDK writes out the shapes of the REST API instead of importing them from @aloft/core,
 * so that it runs without Redis or BullMQ installed (packages/sdk/src/types.ts). This file is
 * the check that the copy still matches: `pnpm typecheck` (the root tsconfig.json) fails when a
 * core type changes and its SDK twin does not. At run time it only passes.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type * as core from '@aloft/core';
import type * as sdk from '@aloft/sdk';

describe('the SDK types are the core types the API sends', () => {
  it('states, run types, task kinds and schedules', () => {
    expectTypeOf<sdk.RunState>().toEqualTypeOf<core.RunState>();
    expectTypeOf<sdk.TaskState>().toEqualTypeOf<core.TaskState>();
    expectTypeOf<sdk.RunType>().toEqualTypeOf<core.RunType>();
    expectTypeOf<sdk.TaskKind>().toEqualTypeOf<core.TaskKind>();
    expectTypeOf<sdk.Schedule>().toEqualTypeOf<core.Schedule>();
  });

  it('runs, task instances, mapped summaries, datasets, pools, log lines, import errors and the grid', () => {
    expectTypeOf<sdk.DagRun>().toEqualTypeOf<core.DagRun>();
    expectTypeOf<sdk.TaskInstance>().toEqualTypeOf<core.TaskInstance>();
    expectTypeOf<sdk.MappedSummary>().toEqualTypeOf<core.MappedSummary>();
    expectTypeOf<sdk.DatasetEvent>().toEqualTypeOf<core.DatasetEvent>();
    expectTypeOf<sdk.DatasetInfo>().toEqualTypeOf<core.DatasetInfo>();
    expectTypeOf<sdk.PoolInfo>().toEqualTypeOf<core.PoolInfo>();
    expectTypeOf<sdk.LogLine>().toEqualTypeOf<core.LogLine>();
    expectTypeOf<sdk.ImportErrorRecord>().toEqualTypeOf<core.ImportErrorRecord>();
    expectTypeOf<sdk.Grid>().toEqualTypeOf<core.RunGrid>();
  });
});
