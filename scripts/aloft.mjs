#!/usr/bin/env node
// `node scripts/aloft.mjs …` (or `./aloft …`): the CLI from a checkout, with nothing
// installed beforehand. Without REDIS_URL it talks to the Redis that `node scripts/up.mjs`
// started (recorded in .data/redis-url), so a second terminal needs no settings.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureInstalled, ROOT } from './lib/bootstrap.mjs';

ensureInstalled();
const env = { ...process.env };
const recorded = join(ROOT, '.data', 'redis-url');
if (!env.REDIS_URL && existsSync(recorded)) env.REDIS_URL = readFileSync(recorded, 'utf8').trim();
// And the keyring up.mjs made for Aloft's own secret store, for `connections` and `variables`.
const keyring = join(ROOT, '.data', 'credentials', 'aloft-secrets-keys');
if (!env.ALOFT_SECRETS_KEYS && !env.ALOFT_SECRETS_KEYS_FILE && existsSync(keyring)) env.ALOFT_SECRETS_KEYS_FILE = keyring;
const child = spawn(
  process.execPath,
  [
    '--conditions=aloft-source',
    '--import',
    pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href,
    join(ROOT, 'packages', 'cli', 'src', 'main.ts'),
    ...process.argv.slice(2),
  ],
  {
    cwd: process.cwd(),
    env,
    stdio: 'inherit',
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
