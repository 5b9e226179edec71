// The quick start's example connections and variables (examples/dags/warehouse_report.ts),
// one of each from every secrets backend, made once in ALOFT_DATA_DIR and kept: the keyring
// that seals Aloft's own store, a folder for the dir backend, and variables for the env
// backend. Nothing here replaces a setting the user gave.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './bootstrap.mjs';

function writeOnce(file, text) {
  if (existsSync(file)) return;
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The settings for the services (keyring and folder) and for the workers (env backend). */
export function exampleSecrets(data, given) {
  const services = {};
  const workers = {};
  if (!given.ALOFT_SECRETS_KEYS && !given.ALOFT_SECRETS_KEYS_FILE) {
    mkdirSync(join(data, 'credentials'), { recursive: true, mode: 0o700 });
    const file = join(data, 'credentials', 'aloft-secrets-keys');
    writeOnce(file, `k1:${randomBytes(32).toString('base64')}\n`);
    services.ALOFT_SECRETS_KEYS_FILE = file;
  }
  if (!given.ALOFT_SECRETS_DIR) {
    const dir = join(data, 'secrets');
    for (const sub of ['connections', 'variables']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeOnce(
      join(dir, 'connections', 'reporting_api'),
      JSON.stringify({ type: 'http', host: 'reports.example.internal', password: `rpt-${randomBytes(9).toString('base64url')}` }),
    );
    writeOnce(join(dir, 'variables', 'report_title'), 'Daily sales report\n');
    services.ALOFT_SECRETS_DIR = dir;
  }
  if (!given.ALOFT_CONN_WAREHOUSE)
    workers.ALOFT_CONN_WAREHOUSE = `postgres://report:wh-${randomBytes(9).toString('base64url')}@warehouse.example.internal:5432/sales`;
  if (!given.ALOFT_VAR_REGION) workers.ALOFT_VAR_REGION = 'eu-west-1';
  return { services, workers };
}

/** Puts the store's example connection and variable in, unless they are there already. */
export function seedExampleStore(services) {
  const env = { ...services };
  if (env.REDIS_URL_FILE) {
    env.REDIS_URL = readFileSync(env.REDIS_URL_FILE, 'utf8').trim();
    delete env.REDIS_URL_FILE;
  }
  const cli = (args, input) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'aloft.mjs'), ...args], { env, stdio: ['pipe', 'ignore', 'inherit'] });
      child.stdin.end(input ?? '');
      child.on('exit', (code) => resolve(code));
    });
  const notify = JSON.stringify({
    type: 'smtp',
    host: 'mail.example.internal',
    port: 587,
    login: 'alerts',
    password: `ntf-${randomBytes(9).toString('base64url')}`,
  });
  return Promise.all([
    cli(['connections', 'add', 'notify', '--stdin', '--if-absent'], notify),
    cli(['variables', 'set', 'alert_threshold', '0.05', '--if-absent']),
  ]);
}
