import type { RunMessage } from './fn-runner.js';

/** A command or function task as handed to run-task.ts inside its own pod (runInPod). */
export type PodTaskSpec =
  | { kind: 'command'; command: string | string[]; env: Record<string, string>; cwd?: string | undefined; skipExitCode: number }
  | { kind: 'fn' | 'branch' | 'shortCircuit'; file: string; dagId: string; taskId: string; ctx: RunMessage['ctx']; skipExitCode: number };

export const encodeSpec = (s: PodTaskSpec): string => Buffer.from(JSON.stringify(s)).toString('base64');
