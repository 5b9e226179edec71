/**
 * An ETL-style DAG: extract a list of regions, transform each in parallel (fan-out), and
 * load the combined result (fan-in). Outputs travel between `fn` tasks through the context.
 */
import { dag } from '@aloft/core/dag';

interface Sales {
  region: string;
  orders: number;
  revenue: number;
}

const etl = dag({
  id: 'etl_fan_out',
  description: 'Extract, transform per region in parallel, load the totals',
  schedule: '@hourly',
  startDate: '2026-01-01T00:00:00Z',
  catchup: false,
  tags: ['example', 'etl'],
  params: { regions: ['north', 'south', 'east', 'west'], currency: 'EUR' },
  defaultArgs: { retries: 2, retryDelay: '1s', executionTimeout: '1m' },
});

const extract = etl.fn({
  id: 'extract',
  run: (ctx) => {
    const regions = ctx.params.regions as string[];
    ctx.log.info('extracting %d regions for %s', regions.length, ctx.ds);
    return regions.map((region, i) => ({ region, orders: 10 * (i + 1), revenue: 125.5 * (i + 1) }));
  },
});

const transforms = ['north', 'south', 'east', 'west'].map((region) =>
  etl.fn({
    id: `transform_${region}`,
    run: (ctx) => {
      const rows = ctx.output(extract).filter((r: Sales) => r.region === region);
      const total = rows.reduce((sum, r) => sum + r.revenue, 0);
      ctx.log.info('%s: %d rows, revenue %d', region, rows.length, total);
      return { region, revenue: total, orders: rows.reduce((n, r) => n + r.orders, 0) };
    },
  }),
);

const load = etl.fn({
  id: 'load',
  run: (ctx) => {
    const parts = transforms.map((t) => ctx.output(t));
    const revenue = parts.reduce((sum, p) => sum + p.revenue, 0);
    ctx.log.info('loaded %d regions, revenue %s %d', parts.length, ctx.params.currency, revenue);
    return { regions: parts.length, revenue, currency: ctx.params.currency };
  },
});

// A shell step that reads the run's date and an upstream output through templating.
const report = etl.command({
  id: 'report',
  command: 'echo "report for {{ ds }}: revenue {{ outputs.load.revenue }} {{ params.currency }}"',
});

extract.then(transforms).then(load).then(report);
