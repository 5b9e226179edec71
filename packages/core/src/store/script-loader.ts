import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'lua');
const INCLUDE = /^--- @include "([^"]+)"\s*$/;
/** An entry script's file name: `<verbNoun>-<numKeys>.lua`, as BullMQ names its own (`moveToFinished-14.lua`). */
const ENTRY = /^([A-Za-z]+)-(\d+)\.lua$/;

function bullmqIncludesDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('bullmq/package.json');
  return join(dirname(pkg), 'dist', 'esm', 'commands', 'includes');
}

/** One entry script, ready for ioredis' defineCommand. */
export interface LoadedScript {
  lua: string;
  /** How many KEYS it takes: the number in its file name. */
  numberOfKeys: number;
}

/** Loads the entry script `lua/<name>-<numKeys>.lua` (see buildScript). */
export function loadScript(name: string): LoadedScript {
  for (const file of readdirSync(LUA_DIR)) {
    const m = ENTRY.exec(file);
    if (m?.[1] === name) return { lua: buildScript(file.slice(0, -4)), numberOfKeys: Number(m[2]) };
  }
  throw new Error(`no Lua script "${name}-<numKeys>.lua" in ${LUA_DIR}`);
}

/**
 * Builds one Lua script from `lua/<file>.lua`, inlining `--- @include "x"` lines once each,
 * depth first. `bullmq:x` names BullMQ's shipped include `x.lua` (pinned BullMQ version), so
 * Aloft's scripts store jobs exactly as BullMQ's own `addJob` does; `bullmq-command:x` is one
 * of BullMQ's whole scripts, for inlining as the body of a function (its KEYS and ARGV the
 * function's parameters).
 */
export function buildScript(file: string): string {
  const seen = new Set<string>();
  const bullDir = bullmqIncludesDir();
  const expand = (path: string, dir: string, bull: boolean): string => {
    if (seen.has(path)) return '';
    seen.add(path);
    const out: string[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = INCLUDE.exec(line);
      if (!m) {
        out.push(line);
        continue;
      }
      const ref = m[1]!;
      if (ref.startsWith('bullmq:')) out.push(expand(join(bullDir, `${ref.slice(7)}.lua`), bullDir, true));
      else if (ref.startsWith('bullmq-command:')) out.push(expand(join(dirname(bullDir), `${ref.slice(15)}.lua`), bullDir, true));
      else if (bull) out.push(expand(join(bullDir, `${ref.replace(/^includes\//, '')}.lua`), bullDir, true));
      else out.push(expand(join(dir, `${ref}.lua`), dir, false));
    }
    return out.join('\n');
  };
  return `local rcall = redis.call\n${expand(join(LUA_DIR, `${file}.lua`), LUA_DIR, false)}`;
}
