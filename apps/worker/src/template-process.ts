/**
 * The template process: renders the fields of one task at a time in the sandbox of
 * @aloft/core/templating, for the worker's TemplateRenderer, which bounds its time and
 * memory. Before each field after the first it says which one it starts, so a render that
 * never ends is reported with its field. It ends with the worker (the IPC channel closes).
 */
import { renderTemplate, templateContext } from '@aloft/core/templating';
import type { RenderReply, RenderRequest } from './template-renderer.js';

const send = (m: RenderReply) => process.send!(m);

process.on('message', (req: RenderRequest) => {
  const ctx = templateContext(req.info);
  const out: string[] = [];
  try {
    for (const [i, f] of req.fields.entries()) {
      if (i > 0) send({ type: 'at', id: req.id, index: i });
      out.push(renderTemplate(f.template, ctx, f.where, { maxBytes: req.maxBytes }));
    }
    send({ type: 'done', id: req.id, out });
  } catch (err) {
    send({ type: 'failed', id: req.id, message: err instanceof Error ? err.message : String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
