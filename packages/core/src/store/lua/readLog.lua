--[[
  Reads log lines of one try from absolute line `from`, as one consistent step with the
  count of lines trimmed from its start (appendTryLog). Returns { first line's absolute
  number, lines }; past a trim, the first line kept comes after the asked one.
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, from, count
]]
local prefix, dagId, runId, task, mi, try = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local from, count = tonumber(ARGV[7]), tonumber(ARGV[8])
local base = dagId .. ':' .. runId .. ':' .. task .. ':' .. mi
local trimmed = tonumber(redis.call('HGET', prefix .. ':ti:' .. base, 'logTrimmed:' .. try)) or 0
local start = math.max(0, from - trimmed)
return { trimmed + start, redis.call('LRANGE', prefix .. ':log:' .. base .. ':' .. try, start, start + count - 1) }
