// Entry of the template process (template-renderer.ts): register the TypeScript loader, then
// load the process's code.
import { register } from 'tsx/esm/api';

register();
await import('./template-process.ts');
