/**
 * Connections and variables: a report that reads a connection and a variable from each of
 * Aloft's three backends, as the worker is configured (ALOFT_SECRETS_BACKENDS):
 *   env    ALOFT_CONN_WAREHOUSE, ALOFT_VAR_REGION in the worker's environment
 *   dir    <ALOFT_SECRETS_DIR>/connections/reporting_api, <ALOFT_SECRETS_DIR>/variables/report_title
 *   store  connection `notify` and variable `alert_threshold` in Aloft's own store
 *          (`node scripts/aloft.mjs connections add …`, sealed with ALOFT_SECRETS_KEYS)
 * `node scripts/up.mjs` provides all six with example values. Passwords reach the tasks and
 * are masked (***) wherever a task prints them; the services here are examples, not reached.
 */
import { dag, secret } from '@aloft/core/dag';

const d = dag({
  id: 'warehouse_report',
  description: 'Reads a connection and a variable from each secrets backend',
  tags: ['example', 'connections'],
});

const extract = d.fn({
  id: 'extract',
  run: async (ctx) => {
    const wh = await ctx.conn('warehouse');
    const region = await ctx.variable('region');
    // The URI holds the password: the log shows it masked.
    ctx.log.info('reading %s sales from %s (%s)', region, wh.host, wh.uri);
    return { region, database: wh.schema, rows: 3, total: 1234.5 };
  },
});

const check = d.fn({
  id: 'check',
  run: async (ctx) => {
    const threshold = Number(await ctx.variable('alert_threshold', '0.1'));
    const notify = await ctx.conn('notify');
    const { total } = ctx.output<{ total: number }>('extract');
    ctx.log.info('alert threshold %s; alerts would go to %s as %s', threshold, notify.host, notify.login);
    return total > 1000 * threshold;
  },
});

// The token reaches the command's environment, never its command line.
const publish = d.command({
  id: 'publish',
  command: 'echo "{{ var.report_title }} for {{ var.region }} to {{ conn.reporting_api.host }}"; echo "token set: ${API_TOKEN:+yes}, printed: $API_TOKEN"',
  env: { API_TOKEN: secret.conn('reporting_api').password },
});

extract.then(check).then(publish);
