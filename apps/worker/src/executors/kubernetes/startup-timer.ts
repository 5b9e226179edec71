import type { PodVerdict } from './reasons.js';

export interface StartupTimerOptions {
  /** How long the pod may stay Pending after its launch. */
  startupMs: number;
  /** The pod's verdict now (reasons.ts), or undefined before the first sighting. */
  verdict: () => PodVerdict | undefined;
  /** Called when the pod is still Pending after startupMs, with the reason the try fails with. */
  onTimeout: (reason: string) => void;
  /** Default Date.now. */
  now?: (() => number) | undefined;
}

/**
 * Fails a pod that stays Pending too long: from `start()`, checks the pod's current verdict
 * every quarter of the timeout (50 ms to 1 s) and, once it is still pending past startupMs,
 * calls onTimeout, naming Unschedulable apart. It decides from the pod as it is now, so a pod
 * that ran and finished is never timed out. `stop()` is safe to call twice.
 */
export class StartupTimer {
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;

  constructor(private readonly o: StartupTimerOptions) {
    this.#now = o.now ?? Date.now;
  }

  start(): void {
    if (this.#timer) return;
    const since = this.#now();
    const { startupMs } = this.o;
    this.#timer = setInterval(
      () => {
        const v = this.o.verdict();
        if (v?.kind !== 'pending' || this.#now() - since <= startupMs) return;
        this.o.onTimeout(`${v.unschedulable ? 'Unschedulable' : 'still Pending'} after ${Math.round(startupMs / 1000)} s (startup timeout): ${v.detail}`);
      },
      Math.min(1000, Math.max(50, startupMs / 4)),
    );
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
