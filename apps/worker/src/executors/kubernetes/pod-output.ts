import { OUTPUT_MARKER, type ExecResult } from '../types.js';
import type { PodVerdict } from './reasons.js';

/** The kubelet keeps at most this many bytes of a container's termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

/**
 * A finished pod's result for its task. The output comes from the main container's
 * termination message when that is JSON, else from its last `::aloft-output::` log line
 * (`marked`), which has no size limit of its own. A message the kubelet cut is named as such.
 */
export function podResult(end: PodVerdict, skipExitCodes: readonly number[] | undefined, marked: string | undefined): ExecResult {
  if (end.kind === 'failed') {
    if (end.exitCode !== undefined && skipExitCodes?.includes(end.exitCode)) {
      return { outcome: 'skipped', reason: `exit code ${end.exitCode} means skipped`, exitCode: end.exitCode };
    }
    return { outcome: 'failed', reason: end.reason, exitCode: end.exitCode, ...(end.infra ? { infra: true } : {}) };
  }
  if (end.kind !== 'succeeded') return { outcome: 'failed', reason: `unexpected pod state ${end.kind}` };
  const raw = end.message ?? '';
  const msg = raw.trim();
  if (msg) {
    const json = asJson(msg);
    if (json !== undefined) return { outcome: 'success', exitCode: 0, outputJson: json };
    if (marked === undefined) {
      const cut = Buffer.byteLength(raw) >= TERMINATION_MESSAGE_LIMIT || raw.length >= TERMINATION_MESSAGE_LIMIT;
      return {
        outcome: 'failed',
        exitCode: 0,
        reason: cut
          ? `the termination message was cut at ${TERMINATION_MESSAGE_LIMIT} bytes by the kubelet, so it is not JSON; write outputs over 4 KiB as a "${OUTPUT_MARKER}<json>" line on stdout instead (with getLogs)`
          : `the termination message is not JSON: ${msg.slice(0, 200)}`,
      };
    }
  }
  if (marked !== undefined) {
    const json = asJson(marked);
    if (json !== undefined) return { outcome: 'success', exitCode: 0, outputJson: json };
    return { outcome: 'failed', exitCode: 0, reason: `the output line is not JSON: ${marked.slice(0, 200)}` };
  }
  return { outcome: 'success', exitCode: 0 };
}

function asJson(text: string): string | undefined {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return undefined;
  }
}
