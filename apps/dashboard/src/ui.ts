import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import express, { type Router } from 'express';

const UI_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

interface Asset {
  body: string;
  type: string;
  etag: string;
}

/**
 * Bundles the web UI (ui/*.tsx, Preact) with esbuild when the dashboard starts: about a
 * second once, no build step to forget, and the same sources the typecheck reads.
 */
async function bundle(): Promise<Map<string, Asset>> {
  const out = await build({
    entryPoints: [`${UI_DIR}main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = out.outputFiles[0]!.text;
  const css = readFileSync(`${UI_DIR}style.css`, 'utf8');
  const tag = (s: string) => `"${createHash('sha256').update(s).digest('base64url').slice(0, 16)}"`;
  return new Map([
    ['app.js', { body: js, type: 'text/javascript; charset=utf-8', etag: tag(js) }],
    ['app.css', { body: css, type: 'text/css; charset=utf-8', etag: tag(css) }],
  ]);
}

function page(assets: Map<string, Asset>): string {
  const v = (name: string) => encodeURIComponent(assets.get(name)!.etag.replace(/"/g, ''));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Aloft</title>
<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css?v=${v('app.css')}">
<script>try{var t=localStorage.getItem('aloft-theme');if(t!=='light'&&t!=='dark')t=matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light';document.documentElement.dataset.theme=t}catch(e){}</script>
</head><body><div id="app"><p class="boot">Loading…</p></div>
<script type="module" src="/ui/app.js?v=${v('app.js')}"></script></body></html>`;
}

/** Serves the single-page UI: its bundle under /ui and its page for every UI path. */
export function uiRouter(): Router & { ready: Promise<unknown> } {
  const ready = bundle().then((assets) => {
    const html = page(assets);
    const inline = /<script>(.*?)<\/script>/.exec(html)![1]!;
    const csp =
      `default-src 'self'; script-src 'self' 'sha256-${createHash('sha256').update(inline).digest('base64')}'; ` +
      "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    return { assets, html, csp };
  });
  ready.catch(() => undefined);
  const r = express.Router();
  r.get('/ui/:name', async (req, res) => {
    const a = (await ready).assets.get(String(req.params['name']));
    if (!a) return void res.status(404).json({ error: 'no such asset', field: 'path' });
    res.set({ 'content-type': a.type, etag: a.etag, 'cache-control': 'private, max-age=31536000, immutable' });
    if (req.headers['if-none-match'] === a.etag) return void res.status(304).end();
    res.send(a.body);
  });
  const send = async (_req: express.Request, res: express.Response) => {
    const { html, csp } = await ready;
    // The UI's own scripts only; data comes from this origin's API.
    res.set({ 'cache-control': 'no-store', 'content-security-policy': csp });
    res.type('html').send(html);
  };
  r.get('/', send);
  r.get(/^\/dags(\/.*)?$/, send);
  r.get(['/pools', '/datasets', '/connections'], send);
  return Object.assign(r, { ready });
}
