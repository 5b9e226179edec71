/**
 * Task groups, as in Airflow's TaskGroup: `ingest` and `publish` each hold a few tasks
 * (ids become `ingest.orders`, `publish.report.render`, …), and the groups are wired as
 * wholes. The dashboard's graph draws each group as a box.
 */
import { dag } from '@aloft/core/dag';

const d = dag({
  id: 'grouped_pipeline',
  description: 'Ingest two sources in a group, check them, publish in a nested group',
  tags: ['example', 'groups'],
  defaultArgs: { owner: 'data', retries: 0 },
});

const start = d.empty({ id: 'start' });

const ingest = d.group({ id: 'ingest', tooltip: 'pull both sources in parallel', defaultArgs: { retries: 2, retryDelay: '5s' } }, (g) => {
  g.fn({ id: 'orders', run: () => [120, 80, 42] });
  g.fn({ id: 'refunds', run: () => [12] });
});

const check = d.fn({
  id: 'check',
  run: (ctx) => {
    const orders = ctx.outputs['ingest.orders'] as number[];
    const refunds = ctx.outputs['ingest.refunds'] as number[];
    const net = orders.reduce((a, b) => a + b, 0) - refunds.reduce((a, b) => a + b, 0);
    ctx.log.info(`net ${net}`);
    return net;
  },
});

const publish = d.group({ id: 'publish' }, (g) => {
  const table = g.command({ id: 'table', command: 'echo "net={{ outputs.check }} for {{ ds }}"' });
  g.group({ id: 'report' }, (r) => {
    const render = r.command({ id: 'render', command: 'echo rendering' });
    const send = r.command({ id: 'send', command: 'echo sent' });
    render.then(send);
  });
  void table;
});

start.then(ingest).then(check).then(publish);
