import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LUA = fileURLToPath(new URL('../src/store/lua', import.meta.url));
const files = [...readdirSync(LUA).filter((f) => f.endsWith('.lua')), ...readdirSync(join(LUA, 'includes')).map((f) => `includes/${f}`)];
const text = (f: string) => readFileSync(join(LUA, f), 'utf8');

// The key segments of store/keys.ts, as a Lua string literal starts them (`':run:'`, `':events'`).
const KEY_LITERAL =
  /'[^']*:(dags|dag|graph|import-errors|runs|active-runs|queued-runs|starting-runs|run|tis|ti|log|out|map|running|sla|events|queues|pools|pool-used|pool-queued|lease|datasets|dataset|dataset-producers|dataset-consumers|dataset-pending|dataset-events|bull)(:|')/;

describe('the Lua scripts', () => {
  it('build Redis keys only in includes/keys.lua', () => {
    const offenders = files.filter(
      (f) =>
        f !== 'includes/keys.lua' &&
        text(f)
          .split('\n')
          .some((l) => !l.trimStart().startsWith('--') && KEY_LITERAL.test(l)),
    );
    expect(offenders).toEqual([]);
  });

  it('are entry scripts named <verbNoun>-<numKeys>.lua, or includes under includes/', () => {
    expect(files.filter((f) => !f.startsWith('includes/') && !/^[a-z][A-Za-z]+-\d+\.lua$/.test(f))).toEqual([]);
  });

  it('open, when an entry script, with a header naming its KEYS, its ARGV and the events it emits', () => {
    const header = (f: string) => /^--\[\[([\s\S]*?)\]\]/.exec(text(f))?.[1] ?? '';
    const missing = files
      .filter((f) => !f.startsWith('includes/'))
      .filter((f) => !/^ {2}KEYS/m.test(header(f)) || !/ARGV(\[1\]|:)/.test(header(f)) || !/^ {2}Emits/m.test(header(f)));
    expect(missing).toEqual([]);
  });

  it('name each of their KEYS in the header, as many as the number in the file name', () => {
    const header = (f: string) => /^--\[\[([\s\S]*?)\]\]/.exec(text(f))?.[1] ?? '';
    const wrong = files
      .filter((f) => !f.startsWith('includes/'))
      .filter((f) => {
        const n = Number(/-(\d+)\.lua$/.exec(f)?.[1]);
        const named = new Set([...header(f).matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
        return named.size !== n || [...named].some((i) => i < 1 || i > n);
      });
    expect(wrong).toEqual([]);
  });

  it('are no longer than 250 lines each', () => {
    const long = files.map((f) => [f, text(f).split('\n').length] as const).filter(([, n]) => n > 250);
    expect(long).toEqual([]);
  });
});
