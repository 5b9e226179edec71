// Entry of a worker's fn host process (fn-host-process.ts): registers the TypeScript loader,
// then loads the host. argv[2]: the pool's options as JSON (FnPoolOptions).
import { register } from 'tsx/esm/api';

register();
await import('./fn-host-process.ts');
