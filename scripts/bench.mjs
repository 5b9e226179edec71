#!/usr/bin/env node
// `pnpm bench`: installs what is needed, then runs bench/bench.ts (its own redis-server).
// `pnpm bench redis`: Redis CPU per task alone (bench/redis-cost.ts), steadier on a shared VM.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureInstalled, ensureRedisServer, ROOT } from './lib/bootstrap.mjs';

ensureInstalled();
if (!process.env.REDIS_URL) ensureRedisServer();
const r = spawnSync(
  process.execPath,
  ['--conditions=aloft-source', '--import', 'tsx', join(ROOT, 'packages', 'bench', 'src', process.argv[2] === 'redis' ? 'redis-cost.ts' : 'bench.ts')],
  { stdio: 'inherit', cwd: ROOT },
);
process.exit(r.status ?? 1);
