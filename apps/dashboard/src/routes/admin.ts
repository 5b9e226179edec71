import express, { type Router } from 'express';
import { z } from 'zod';
import { ROLES, requireRole, type Auth } from '../auth.js';

/** What is wrong with a request body, as the 4xx JSON names it: the first problem's field. */
function problem(err: z.ZodError): { error: string; field: string } {
  const i = err.issues[0]!;
  return { error: i.message, field: i.path.join('.') || 'body' };
}

const NewUser = z.object({
  username: z.string().regex(/^[a-z0-9_.-]{1,64}$/i, 'letters, digits, ".", "_" or "-", at most 64'),
  password: z.string().min(12, 'at least 12 characters'),
  role: z.enum(ROLES),
});
const NewToken = z.object({ name: z.string().regex(/^[a-z0-9_.-]{1,64}$/i, 'letters, digits, ".", "_" or "-", at most 64'), role: z.enum(ROLES) });
export const ADMIN_SCHEMAS = { NewUser, NewToken };

/** Users and API tokens, for admins: /api/v1/users and /api/v1/tokens. */
export function adminApi(auth: Auth): Router {
  const r = express.Router();
  r.get('/me', (req, res) => {
    res.json({ username: req.user!.username, role: req.user!.role });
  });
  r.use(['/users', '/tokens'], requireRole('admin'));
  r.get('/users', async (_req, res) => {
    res.json({ users: await auth.listUsers() });
  });
  r.post('/users', async (req, res) => {
    const body = NewUser.safeParse(req.body);
    if (!body.success) return void res.status(400).json(problem(body.error));
    await auth.addUser(body.data.username, body.data.password, body.data.role);
    res.status(201).json({ username: body.data.username, role: body.data.role });
  });
  r.get('/tokens', async (_req, res) => {
    res.json({ tokens: await auth.listTokens() });
  });
  r.post('/tokens', async (req, res) => {
    const body = NewToken.safeParse(req.body);
    if (!body.success) return void res.status(400).json(problem(body.error));
    try {
      const token = await auth.createToken(body.data.name, body.data.role, req.user!.username);
      res.status(201).json({ name: body.data.name, role: body.data.role, token, note: 'shown once; store it now' });
    } catch (err) {
      res.status(409).json({ error: (err as Error).message, field: 'name' });
    }
  });
  r.delete('/tokens/:name', async (req, res) => {
    if (!(await auth.revokeToken(req.params['name']!))) return void res.status(404).json({ error: `no token named "${req.params['name']}"`, field: 'name' });
    res.status(204).end();
  });
  r.use((req, res) => {
    res.status(404).json({ error: `no such endpoint: ${req.method} /api/v1${req.path}`, field: 'path' });
  });
  return r;
}
