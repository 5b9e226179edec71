import type { NextFunction, Request, Response } from 'express';

/**
 * What is wrong with a parsed JSON body before anything recursive reads it (zod, the
 * store's JSON.stringify, templating): nested deeper than `maxDepth` (the body itself is
 * level 1), or an object key `__proto__`, which JSON.parse keeps as an own key and
 * spreading or assigning turns into a prototype. Walks iteratively, so any depth is safe
 * to check; the field named is the body's top-level key the problem is under.
 */
export function jsonProblem(body: unknown, maxDepth: number): { error: string; field: string } | undefined {
  const stack: { value: unknown; depth: number; field: string }[] = [{ value: body, depth: 1, field: 'body' }];
  while (stack.length) {
    const { value, depth, field } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) return { error: `${field === 'body' ? 'the body' : field} is nested deeper than ${maxDepth} levels, the limit`, field };
    if (Array.isArray(value)) {
      for (const v of value) stack.push({ value: v, depth: depth + 1, field });
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      const at = depth === 1 ? k : field;
      if (k === '__proto__') return { error: `"__proto__" is not allowed as a key${at === k ? '' : ` (in ${at})`}`, field: at };
      stack.push({ value: v, depth: depth + 1, field: at });
    }
  }
  return undefined;
}

/**
 * After express.json: a body that is not JSON is a 415 naming content-type (unread, it
 * would count as `{}`, and a trigger would silently run with the default conf), and a
 * JSON body past jsonProblem's limits a 400 naming the field.
 */
export function jsonLimits(maxDepth: number) {
  return (req: Request, res: Response, next: NextFunction) => {
    const sent = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (sent && !req.is('application/json')) {
      return void res
        .status(415)
        .json({ error: `send the body as application/json (got ${JSON.stringify(req.headers['content-type'] ?? 'no content-type')})`, field: 'content-type' });
    }
    const problem = jsonProblem(req.body, maxDepth);
    if (problem) return void res.status(400).json(problem);
    next();
  };
}
