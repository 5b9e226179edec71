// The thread task-regex.ts starts for one taskRegex: compiles it with RE2 (re2js) and tests
// the task ids. Plain JavaScript: a worker thread does not inherit the parent's
// `--import tsx`, and this needs no TypeScript.
import { parentPort, workerData } from 'node:worker_threads';
import { RE2JS } from 're2js';

const { pattern, ids } = workerData;
try {
  const re = RE2JS.compile(pattern);
  parentPort.postMessage({ matched: ids.filter((id) => re.test(id)) });
} catch (err) {
  parentPort.postMessage({ error: String(err.message).replace(/^error parsing regexp: /, '') });
}
