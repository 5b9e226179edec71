import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader, KEY_BYTES, MAX_RESULT_BYTES } from '../src/parse-protocol.js';

describe('the parse result frame', () => {
  const key = randomBytes(KEY_BYTES);

  it('is read back whole however the pipe splits it', () => {
    const frame = encodeFrame(key, '{"dags":[]}');
    const r = new FrameReader(key);
    for (let i = 0; i < frame.length; i += 5) r.push(frame.subarray(i, i + 5));
    expect(r.payload).toBe('{"dags":[]}');
  });

  it('is refused when it does not start with the key the scheduler gave the child', () => {
    const r = new FrameReader(key);
    r.push(encodeFrame(randomBytes(KEY_BYTES), '{"dags":[]}'));
    expect(r.payload).toBeUndefined();
    expect(r.problem).toBe('something other than the parse child wrote to its result channel (fd 3)');
  });

  it('is refused when it announces more than the result limit, before it is read', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_RESULT_BYTES + 1);
    const r = new FrameReader(key);
    r.push(Buffer.concat([key, head]));
    expect(r.problem).toBe('the parse result is 64.0 MiB, more than the 64.0 MiB a result may take');
  });
});
