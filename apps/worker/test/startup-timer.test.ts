import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PodVerdict } from '../src/executors/kubernetes/reasons.js';
import { StartupTimer } from '../src/executors/kubernetes/startup-timer.js';

describe('the startup timer fails a pod still Pending after its startup timeout, from the pod as it is now', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const timer = (verdict: () => PodVerdict | undefined) => {
    const reasons: string[] = [];
    const t = new StartupTimer({ startupMs: 2000, verdict, onTimeout: (r) => reasons.push(r), now: () => Date.now() });
    t.start();
    return { t, reasons };
  };

  it('names the reason, Unschedulable apart, only once the timeout has passed', () => {
    const pending = timer(() => ({ kind: 'pending', detail: 'ContainerCreating', unschedulable: false }));
    const unschedulable = timer(() => ({ kind: 'pending', detail: '0/3 nodes are available', unschedulable: true }));
    vi.advanceTimersByTime(2000);
    expect(pending.reasons).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(pending.reasons[0]).toBe('still Pending after 2 s (startup timeout): ContainerCreating');
    expect(unschedulable.reasons[0]).toBe('Unschedulable after 2 s (startup timeout): 0/3 nodes are available');
    pending.t.stop();
    unschedulable.t.stop();
  });

  it('leaves a pod that started, one not seen yet, and a stopped timer alone', () => {
    let v: PodVerdict | undefined = undefined;
    const running = timer(() => v);
    const stopped = timer(() => ({ kind: 'pending', detail: 'x', unschedulable: false }));
    stopped.t.stop();
    stopped.t.stop();
    vi.advanceTimersByTime(3000);
    expect(running.reasons).toEqual([]);
    v = { kind: 'running' };
    vi.advanceTimersByTime(3000);
    expect(running.reasons).toEqual([]);
    expect(stopped.reasons).toEqual([]);
    running.t.stop();
  });
});
