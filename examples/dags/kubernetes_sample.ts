/**
 * Airflow's `kubernetes_sample` made local: `run_this_first` before a passing task and a
 * failing one. kubernetes_sample_pod.ts runs the same tasks as pods.
 */
import { dag } from '@aloft/core/dag';

const sample = dag({
  id: 'kubernetes_sample',
  description: 'A passing and a failing task after an empty one, every 10 minutes',
  schedule: '*/10 * * * *',
  startDate: '2026-01-01T00:00:00Z',
  catchup: false,
  tags: ['example', 'sample'],
  defaultArgs: { owner: 'aloft', retries: 1, retryDelay: '2s' },
});

const start = sample.empty({ id: 'run_this_first' });

// python3 where it is installed, node otherwise: both print the same line.
const passing = sample.command({
  id: 'passing',
  command: `if command -v python3 >/dev/null; then python3 -c "print('hello world')"; else node -e "console.log('hello world')"; fi`,
});

// An interpreter that is not installed: the task fails, is retried once, then fails for good.
const failing = sample.command({
  id: 'failing',
  command: ['python-not-installed', '-c', "print('hello world')"],
});

start.then([passing, failing]);
