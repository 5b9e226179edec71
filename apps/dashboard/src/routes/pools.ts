import express, { type Router } from 'express';
import type { AloftClient } from '@aloft/core';
import { requireRole } from '../auth.js';
import { handle, param, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { PoolSet } = API_SCHEMAS;

/** Pools: list, create or resize, delete. */
export function poolRoutes(client: AloftClient): Router {
  const r = express.Router();
  const operator = requireRole('operator');
  r.get(
    '/pools',
    requireRole('viewer'),
    handle(async (_req, res) => {
      res.json({ pools: await client.listPools() });
    }),
  );
  r.put(
    '/pools/:name',
    operator,
    handle(async (req, res) => {
      const body = parse(PoolSet, req.body);
      res.json(await client.setPool(param(req, 'name'), body.slots, body.description));
    }),
  );
  r.delete(
    '/pools/:name',
    operator,
    handle(async (req, res) => {
      await client.deletePool(param(req, 'name'));
      res.status(204).end();
    }),
  );
  return r;
}
