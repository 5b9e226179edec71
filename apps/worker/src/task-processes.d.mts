/** Types of task-processes.mjs (plain JavaScript, shared with the reaper). */
export declare const TASK_TAG_ENV: 'ALOFT_TASK_TAG';
export declare function startTicks(pid: number): number | undefined;
export declare function outputEnds(pid: number): string[];
export declare function findTaskProcesses(o: { since: number; tags?: string[]; ends?: string[]; exceptGroup?: number }): Promise<number[]>;
export declare function endProcesses(pids: number[], graceMs: number): Promise<void>;
