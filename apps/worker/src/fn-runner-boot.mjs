// Entry of a function-runner thread: a worker thread does not inherit the parent's
// `--import tsx`, so register the TypeScript loader here, then load the runner (and,
// through it, the DAG files).
import { register } from 'tsx/esm/api';

register();
await import('./fn-runner.ts');
