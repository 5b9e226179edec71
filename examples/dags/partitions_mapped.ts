/**
 * Dynamic task mapping, as Airflow's `expand`: the partitions are only known when the run
 * lists them, and the `per_partition` group runs once per partition (fetch, then count,
 * copy beside copy). The report gets every copy's count as one list.
 */
import { dag, type TaskRef } from '@aloft/core/dag';

const d = dag({
  id: 'partitions_mapped',
  description: 'List partitions at run time, process each in a mapped task group, report on all',
  tags: ['example', 'mapping'],
  params: { partitions: { type: 'number', default: 4, description: 'how many partitions to list' } },
});

const list = d.fn({
  id: 'list_partitions',
  run: (ctx) => Array.from({ length: Number(ctx.params['partitions']) }, (_, i) => `${ctx.ds}/part-${i}`),
});

let counted: TaskRef<{ partition: string; rows: number }> | undefined;
const perPartition = d.group({ id: 'per_partition', expand: { partition: list }, tooltip: 'one copy per listed partition' }, (g) => {
  const fetch = g.command({
    id: 'fetch',
    command: 'echo "fetching {{ args.partition }} (copy {{ map_index }})"; echo "::aloft-output::{{ (args.partition | length) * 10 }}"',
  });
  counted = g.fn({
    id: 'count',
    upstream: [fetch],
    run: (ctx) => ({ partition: String(ctx.args['partition']), rows: Number(ctx.output(fetch)) }),
  });
});

d.fn({
  id: 'report',
  upstream: [perPartition, counted!],
  run: (ctx) => {
    const counts = ctx.output(counted!) as unknown as { rows: number }[];
    const rows = counts.reduce((a, c) => a + c.rows, 0);
    ctx.log.info(`${counts.length} partitions, ${rows} rows`);
    return { partitions: counts.length, rows };
  },
});
