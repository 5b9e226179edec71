import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '@aloft/core';

/** An error as express, body-parser and the router hand it on: a status and a type when they know them. */
interface HttpError {
  status?: number;
  type?: string;
  message?: string;
  charset?: string;
  encoding?: string;
  /** body-parser's size limit in bytes, on entity.too.large. */
  limit?: number;
}

/** What the client sent wrong, by body-parser's error type: the message and the request field. */
function bodyProblem(err: HttpError): { error: string; field: string } | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return { error: `request body too large (limit ${Math.floor((err.limit ?? 0) / 1024)} kB)`, field: 'body' };
    case 'entity.parse.failed':
      return { error: 'body is not valid JSON', field: 'body' };
    case 'charset.unsupported':
      return { error: `unsupported charset "${err.charset ?? ''}": send JSON as UTF-8`, field: 'content-type' };
    case 'encoding.unsupported':
      return { error: `unsupported content encoding "${err.encoding ?? ''}": send gzip, deflate, br or none`, field: 'content-encoding' };
    default:
      return undefined;
  }
}

/**
 * The app's last handler: an error no route answered becomes JSON naming the request field
 * at fault. Input the client got wrong (JSON, size, charset, encoding, a path whose
 * percent-encoding does not decode) is a 4xx; anything else is a 500 that says no more than
 * "internal error" and is logged with its stack.
 */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = (typeof err === 'object' && err !== null ? err : {}) as HttpError;
    // The router decodes path parameters with decodeURIComponent; a URIError is the client's.
    if (err instanceof URIError)
      return void res.status(400).json({ error: `the path is not valid percent-encoded UTF-8: ${req.path.slice(0, 200)}`, field: 'path' });
    const known = bodyProblem(e);
    if (known) return void res.status(e.status && e.status >= 400 && e.status < 500 ? e.status : 400).json(known);
    if (e.status && e.status >= 400 && e.status < 500) return void res.status(e.status).json({ error: e.message || 'bad request', field: 'body' });
    logger.error({ err, method: req.method, url: req.originalUrl.slice(0, 500) }, 'request failed');
    res.status(500).json({ error: 'internal error', field: 'server' });
  };
}
