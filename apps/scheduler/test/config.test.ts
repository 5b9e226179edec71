import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchedulerConfig } from '../src/config.js';

describe('the scheduler config', () => {
  it('gives each setting its default, in the units its name says', () => {
    const c = loadSchedulerConfig({});
    expect(c).toMatchObject({
      dagsFolder: resolve('examples/dags'),
      httpPort: 8791,
      loopMs: 1000,
      sweepMs: 10000,
      scanMs: 2000,
      parseTimeoutMs: 30000,
      parseMemoryMb: 1024,
      parseRetryMs: 60_000,
      maxMapLength: 1024,
      maxCatchupRuns: 100,
      retentionMaxRuns: 500,
      retentionMaxAgeMs: 30 * 86_400_000,
      userCodeUser: undefined,
      prefix: 'aloft',
    });
  });

  it('reads its variables, and refuses a bad one by name', () => {
    expect(loadSchedulerConfig({ ALOFT_RETENTION_MAX_AGE_DAYS: '0.5', ALOFT_MAX_MAP_LENGTH: '8', ALOFT_DAG_PARSE_RETRY_MS: '5000' })).toMatchObject({
      retentionMaxAgeMs: 43_200_000,
      maxMapLength: 8,
      parseRetryMs: 5000,
    });
    expect(() => loadSchedulerConfig({ ALOFT_SCHEDULER_LOOP_MS: '10' })).toThrow(/^invalid configuration: ALOFT_SCHEDULER_LOOP_MS: /);
  });
});
