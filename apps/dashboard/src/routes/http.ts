import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import { ConflictError, DagImportError, InvalidInputError, NotFoundError, NotReplicatedError } from '@aloft/core';
import { TaskRegexError } from '../task-regex.js';

/** A request the API refuses: 400 (or `status`) with the message and the field it names. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly field: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** `value` checked against `schema`; the first problem is a BadRequest naming its field. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new BadRequest(i.message, i.path.join('.') || 'body');
  }
  return r.data;
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** An async route handler whose rejection goes to the error handlers. */
export const handle = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);

/** A path parameter as a string. */
export const param = (req: Request, name: string) => String(req.params[name]);

/** Known failures as 4xx JSON; the rest goes to the app's handler (500, logged). */
export function apiErrors() {
  return (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (err instanceof NotFoundError) return void res.status(404).json({ error: err.message, field: 'path' });
    if (err instanceof DagImportError) return void res.status(400).json({ error: err.message, field: err.field ?? 'body' });
    if (err instanceof InvalidInputError) return void res.status(400).json({ error: err.message, field: err.field });
    if (err instanceof ConflictError) return void res.status(409).json({ error: err.message, field: err.field });
    // Recorded, but not yet safe from a failover: the caller may repeat it with the same run id.
    if (err instanceof NotReplicatedError) return void res.status(503).json({ error: err.message });
    if (err instanceof TaskRegexError) return void res.status(err.status).json({ error: err.message, field: err.field });
    if (err instanceof BadRequest) return void res.status(err.status).json({ error: err.message, field: err.field });
    next(err);
  };
}
