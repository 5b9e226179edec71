import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseEnv, SERVICE_SETTINGS, serviceConfig } from '../src/index.js';

const SERVICE = z.object(SERVICE_SETTINGS);
const dir = mkdtempSync(join(tmpdir(), 'aloft-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the shared service settings', () => {
  it('default to a local Redis, prefix aloft, no replicas to wait for', () => {
    expect(serviceConfig(parseEnv(SERVICE, {}))).toEqual({
      redis: { url: 'redis://127.0.0.1:6379', tlsCaFile: undefined, sentinels: undefined, sentinelName: 'mymaster', sentinelPassword: undefined },
      durability: { replicas: 0, timeoutMs: 1000 },
      prefix: 'aloft',
      logLevel: 'info',
      logPretty: false,
      logMaxLines: 10000,
    });
  });

  it('read a credential from its _FILE, and refuse it set both ways', () => {
    const file = join(dir, 'url');
    writeFileSync(file, 'redis://:pw@db:6380\n');
    expect(serviceConfig(parseEnv(SERVICE, { REDIS_URL_FILE: file })).redis.url).toBe('redis://:pw@db:6380');
    expect(() => parseEnv(SERVICE, { REDIS_URL_FILE: file, REDIS_URL: 'redis://x' })).toThrow(
      'invalid configuration: set REDIS_URL or REDIS_URL_FILE, not both',
    );
    expect(() => parseEnv(SERVICE, { REDIS_URL_FILE: join(dir, 'none') })).toThrow(/REDIS_URL_FILE: cannot read .*none \(ENOENT\)/);
  });

  it('name the variable of a bad value', () => {
    expect(() => parseEnv(SERVICE, { ALOFT_KEY_PREFIX: 'a b', ALOFT_LOG_LEVEL: 'loud' })).toThrow(
      /^invalid configuration: ALOFT_KEY_PREFIX: .*; ALOFT_LOG_LEVEL: /,
    );
  });
});
