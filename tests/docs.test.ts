/**
 * The repository's documents point at what exists: every relative link in README.md,
 * CONTRIBUTING.md and docs/*.md resolves to a file or folder of the repository, and every
 * repository path that docs/architecture.md names in backticks exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/system.js';

const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The top-level folders a backticked path in the architecture page starts with. */
const TOP = ['apps', 'packages', 'tests', 'scripts', 'deploy', 'docs', 'examples'];

/** Markdown links `[text](target)` outside code blocks, without the #fragment. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z][a-z+.-]*:/i.test(t) && !t.startsWith('#'))
    .map((t) => decodeURIComponent(t.split('#')[0]!));
}

describe('the documents', () => {
  it('exist', () => {
    for (const doc of ['README.md', 'CONTRIBUTING.md', 'docs/architecture.md']) expect(existsSync(join(ROOT, doc)), doc).toBe(true);
  });

  for (const doc of DOCS) {
    it(`${doc}: every relative link resolves to a file in the repository`, () => {
      const file = join(ROOT, doc);
      const broken = relativeLinks(readFileSync(file, 'utf8')).filter((target) => {
        const path = join(dirname(file), target);
        return relative(ROOT, path).startsWith('..') || !existsSync(path);
      });
      expect(broken).toEqual([]);
    });
  }

  it('docs/architecture.md: every repository path it names in backticks exists', () => {
    const text = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    const paths = [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!).filter((p) => TOP.includes(p.split('/')[0]!) && p.includes('/') && !/[*<>{}]/.test(p));
    expect(paths.length).toBeGreaterThan(40);
    expect(paths.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });
});
