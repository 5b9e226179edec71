import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ServiceHttpOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Liveness: the process is not wedged. */
  healthy: () => boolean;
  /** Readiness: connected and doing its work. */
  ready: () => boolean | Promise<boolean>;
}

/** `/healthz`, `/readyz` and `/metrics` for the scheduler and workers (the dashboard has its own). */
export class ServiceHttp {
  #server: Server | undefined;
  constructor(private readonly opts: ServiceHttpOptions) {}

  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => {
      void (async () => {
        const path = (req.url ?? '/').split('?')[0];
        if (path === '/healthz') {
          const ok = this.opts.healthy();
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok }));
        } else if (path === '/readyz') {
          const ok = await this.opts.ready();
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok }));
        } else if (path === '/metrics') {
          res.writeHead(200, { 'content-type': this.opts.registry.contentType }).end(await this.opts.registry.metrics());
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${path}` }));
        }
      })().catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '0.0.0.0', () => resolve());
    });
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
