import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { parseConnection, type SecretStore } from '@aloft/core';
import { requireRole } from '../auth.js';
import { BadRequest, handle, param, parse } from './http.js';

const ConnectionBody = z
  .object({
    uri: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    host: z.string().optional(),
    port: z.number().int().min(0).max(65535).optional(),
    login: z.string().optional(),
    password: z.string().optional(),
    schema: z.string().optional(),
    extra: z.record(z.string(), z.unknown()).optional(),
    description: z.string().max(1000).optional(),
  })
  .strict();
const VariableBody = z.object({ value: z.string().max(1_000_000), secret: z.boolean().optional(), description: z.string().max(1000).optional() }).strict();

/** The request bodies, for the OpenAPI document. */
export const SECRET_SCHEMAS = { ConnectionBody, VariableBody };

const who = (req: Request) => req.user?.username ?? 'unknown';
const mayRead = (req: Request) => req.user !== undefined && req.user.role !== 'viewer';

/**
 * Connections and variables of Aloft's own store (SecretStore). Write-only secrets: no answer
 * ever carries a password, an extra value or a secret variable's value; a viewer gets names
 * only. Changes need the operator role and are audited with the user's name.
 */
export function secretRoutes(secrets: SecretStore): Router {
  const store = () => secrets;
  const r = express.Router();
  const viewer = requireRole('viewer');
  const operator = requireRole('operator');
  r.get(
    '/connections',
    viewer,
    handle(async (req, res) => {
      const all = await store().listConnections();
      res.json({ connections: mayRead(req) ? all : all.map((c) => ({ id: c.id })) });
    }),
  );
  r.get(
    '/connections/:id',
    operator,
    handle(async (req, res) => {
      res.json(await store().getConnectionSummary(param(req, 'id')));
    }),
  );
  r.put(
    '/connections/:id',
    operator,
    handle(async (req, res) => {
      const id = param(req, 'id');
      const body = parse(ConnectionBody, req.body);
      const { uri, description, ...fields } = body;
      let conn;
      if (uri !== undefined) {
        if (fields.type !== undefined || fields.host !== undefined) throw new BadRequest('give either uri or the fields (type, host, …), not both', 'uri');
        const { id: _id, uri: _uri, ...parsed } = parseConnection(id, uri, 'uri');
        conn = { ...parsed, ...(fields.password !== undefined ? { password: fields.password } : {}) };
      } else {
        if (fields.type === undefined) throw new BadRequest('type is required (or give uri)', 'type');
        conn = { ...fields, type: fields.type, extra: fields.extra ?? {} };
      }
      res.json(await store().setConnection(id, { ...conn, ...(description !== undefined ? { description } : {}) }, who(req)));
    }),
  );
  r.delete(
    '/connections/:id',
    operator,
    handle(async (req, res) => {
      await store().delete('connection', param(req, 'id'), who(req));
      res.status(204).end();
    }),
  );
  r.get(
    '/variables',
    viewer,
    handle(async (req, res) => {
      const s = store();
      const all = await s.listVariables();
      if (!mayRead(req)) return void res.json({ variables: all.map((v) => ({ key: v.key })) });
      const variables = await Promise.all(all.map(async (v) => (v.secret ? v : { ...v, value: (await s.variable(v.key))?.value })));
      res.json({ variables });
    }),
  );
  r.put(
    '/variables/:key',
    operator,
    handle(async (req, res) => {
      const body = parse(VariableBody, req.body);
      res.json(
        await store().setVariable(
          param(req, 'key'),
          body.value,
          { ...(body.secret !== undefined ? { secret: body.secret } : {}), ...(body.description !== undefined ? { description: body.description } : {}) },
          who(req),
        ),
      );
    }),
  );
  r.delete(
    '/variables/:key',
    operator,
    handle(async (req, res) => {
      await store().delete('variable', param(req, 'key'), who(req));
      res.status(204).end();
    }),
  );
  r.get(
    '/secrets/audit',
    operator,
    handle(async (_req, res) => {
      res.json({ audit: await store().audit(200) });
    }),
  );
  return r;
}
