/**
 * Every `./aloft …` line in the documents names a command and options the CLI has, and runs
 * as pasted: each distinct command is asked for its `--help` through `./aloft` itself, and
 * each `--option` the line uses must be in that help or the global options.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/system.js';

const exec = promisify(execFile);
const DOCS = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(ROOT, 'docs')).flatMap((f) => (f.endsWith('.md') ? [`docs/${f}`] : []))];

/** `./aloft` command lines: in code blocks, a line each; in prose, inline code (which may wrap). Without comments. */
function aloftLines(): { doc: string; line: string }[] {
  return DOCS.flatMap((doc) => {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    const blocks = [...text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].flatMap((m) => m[1]!.split('\n'));
    const prose = text.replace(/^```[\s\S]*?^```/gm, '');
    return [...blocks.filter((l) => l.startsWith('./aloft ')), ...[...prose.matchAll(/`(\.\/aloft [^`]+)`/g)].map((m) => m[1]!)]
      .map((l) =>
        l
          .replace(/\s+#.*$/, '')
          .replace(/\s+/g, ' ')
          .trim(),
      )
      .filter((line) => line !== './aloft …') // the CLI as a whole
      .map((line) => ({ doc, line }));
  });
}

const help = async (words: string[]): Promise<string> => (await exec(join(ROOT, 'aloft'), [...words, '--help'], { cwd: ROOT })).stdout;

/** The `Commands:` names of a help text. */
const subcommands = (text: string): string[] => [...(text.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!);

describe('the CLI as the documents write it', () => {
  it('every ./aloft line names a command and options that exist', async () => {
    const lines = aloftLines();
    expect(lines.length).toBeGreaterThan(15);
    const top = await help([]);
    const global = [...top.matchAll(/--[a-z-]+/g)].map((m) => m[0]);
    const helps = new Map<string, Promise<string>>();
    const problems: string[] = [];
    for (const { doc, line } of lines) {
      // Words before the first argument: the command, and its subcommand when it is a group.
      const words = line.split(/\s+/).slice(1);
      // Global options before the command: `--json`, or one with a value (`--server URL`).
      while (words[0]?.startsWith('--')) words.splice(0, words[0] === '--json' ? 1 : 2);
      const cmd = words[0] ?? '';
      if (!subcommands(top).includes(cmd)) {
        problems.push(`${doc}: "${line}": no command "${cmd}"`);
        continue;
      }
      const first = await (helps.get(cmd) ?? helps.set(cmd, help([cmd])).get(cmd)!);
      const path = subcommands(first).includes(words[1] ?? '') ? [cmd, words[1]!] : [cmd];
      const text = await (helps.get(path.join(' ')) ?? helps.set(path.join(' '), help(path)).get(path.join(' '))!);
      const options = line.split(' -- ')[0]!.match(/(?<=\s)--[a-z][a-z-]*/g) ?? [];
      for (const o of options) if (!text.includes(o) && !global.includes(o)) problems.push(`${doc}: "${line}": ${path.join(' ')} has no option ${o}`);
    }
    expect(problems).toEqual([]);
  }, 180_000);

  it('an unknown command is an error naming it', async () => {
    const r = await exec(join(ROOT, 'aloft'), ['dagz', 'list'], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toContain("unknown command 'dagz'");
  });
});
