import { describe, expect, it } from 'vitest';
import { HeadTail } from '../src/head-tail.js';

describe('HeadTail', () => {
  it('keeps a short stream whole', () => {
    const h = new HeadTail(8);
    h.push(Buffer.from('abc'));
    h.push(Buffer.from('def'));
    expect(h.text()).toBe('abcdef');
    expect(h.total).toBe(6);
  });

  it('keeps the first and last bytes of a long stream and says how much it left out', () => {
    const h = new HeadTail(4);
    for (const part of ['0123', '4567', '89ab', 'cdef', 'ghij']) h.push(Buffer.from(part));
    expect(h.text()).toBe('0123\n[… 12 bytes not kept …]\nghij');
    expect(h.total).toBe(20);
  });

  it('holds no more than about twice its limit however much passes through', () => {
    const h = new HeadTail(1024);
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    for (let i = 0; i < 1000; i++) h.push(chunk);
    expect(h.total).toBe(64 * 1024 * 1000);
    expect(Buffer.byteLength(h.text())).toBeLessThan(4096);
  });
});
