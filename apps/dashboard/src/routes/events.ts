import express, { type Router } from 'express';
import { requireRole } from '../auth.js';
import { openSse, type EventHub } from '../live.js';
import { handle, parse } from './http.js';
import { API_SCHEMAS } from './schemas.js';

const { Watch } = API_SCHEMAS;

/** Task, run and DAG transitions as server-sent events, filtered by DAG, run and type. */
export function eventRoutes(hub: EventHub): Router {
  const r = express.Router();
  r.get(
    '/events',
    requireRole('viewer'),
    handle(async (req, res) => {
      const q = parse(Watch, req.query);
      const types = q.types ? new Set(q.types.split(',')) : undefined;
      let unsubscribe = () => {};
      const send = openSse(res, () => unsubscribe());
      unsubscribe = hub.subscribe((e) => {
        if ((q.dagId && e.dagId !== q.dagId) || (q.runId && e.runId !== q.runId) || (types && !types.has(e.type))) return;
        send(e.type, e);
      });
      send('ready', { subscribed: q });
    }),
  );
  return r;
}
