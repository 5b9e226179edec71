import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RedisOutageLog } from '../src/index.js';

/** RedisOutageLog with stand-in connections: what one service logs for an outage of its Redis. */
describe('RedisOutageLog', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
  const setup = () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
    const log = new RedisOutageLog(logger);
    const [a, b] = [log.watch(new EventEmitter(), 'a'), log.watch(new EventEmitter(), 'b')];
    const said = () => lines.filter((l) => l.level >= 30).map((l) => `${l.level} ${l.msg}`);
    return { log, a, b, said };
  };

  it('logs one warn for an outage of several connections, and one info once all are back', () => {
    const { log, a, b, said } = setup();
    for (let i = 0; i < 5; i++) {
      a.emit('error', refused());
      b.emit('error', refused());
    }
    expect(log.down).toBe(true);
    a.emit('ready');
    expect(log.down).toBe(true);
    b.emit('ready');
    expect(log.down).toBe(false);
    expect(said()).toEqual(['40 Redis unreachable; retrying', '30 Redis reachable again']);
    // The next outage is logged again.
    b.emit('error', refused());
    b.emit('ready');
    expect(said()).toHaveLength(4);
  });

  it('takes a connection closed for good out of the picture, and sorts reported errors', () => {
    const { log, a, b, said } = setup();
    a.emit('error', refused());
    b.emit('error', refused());
    b.emit('end');
    a.emit('ready');
    expect(said()).toEqual(['40 Redis unreachable; retrying', '30 Redis reachable again']);
    expect(log.report(new Error('Connection is closed.'), 'bullmq')).toBe(true);
    expect(log.report(new Error('ERR unknown command'), 'bullmq')).toBe(false);
    expect(log.down).toBe(false);
  });
});
