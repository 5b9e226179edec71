--[[
  Reads log lines of one try from absolute line `from`, as one consistent step with the
  count of lines trimmed from its start (appendTryLog). Returns { first line's absolute
  number, lines }; past a trim, the first line kept comes after the asked one.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6]  try
  ARGV[7]  from (absolute line number)
  ARGV[8]  count
  Emits    nothing (reads only)
]]
--- @include "includes/keys"
local prefix, dagId, runId, task, mi, try = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local from, count = tonumber(ARGV[7]), tonumber(ARGV[8])
local trimmed = tonumber(rcall('HGET', Keys.ti(prefix, dagId, runId, task, mi), 'logTrimmed:' .. try)) or 0
local start = math.max(0, from - trimmed)
return { trimmed + start, rcall('LRANGE', Keys.log(prefix, dagId, runId, task, mi, try), start, start + count - 1) }
