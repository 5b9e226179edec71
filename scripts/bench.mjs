#!/usr/bin/env node
// `pnpm bench`: installs what is needed, then runs bench/bench.ts (its own redis-server).
// `pnpm bench redis`: Redis CPU per task alone (bench/redis-cost.ts), steadier on a shared VM.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureInstalled, ensureRedisServer, ROOT } from './lib/bootstrap.mjs';

ensureInstalled();
if (!process.env.REDIS_URL) ensureRedisServer();
const child = spawn(
  process.execPath,
  ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'packages', 'bench', 'src', process.argv[2] === 'redis' ? 'redis-cost.ts' : 'bench.ts')],
  { stdio: 'inherit', cwd: ROOT },
);
// A SIGTERM or Ctrl-C here goes on to the bench, which stops what it started before it exits.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 143)));
