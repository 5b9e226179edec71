export { startRedis, freePort, ensureRedisServer, type RedisHandle } from './redis-server.js';
