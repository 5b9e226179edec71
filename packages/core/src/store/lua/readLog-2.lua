--[[
  Reads log lines of one try from absolute line `from`, as one consistent step with the
  count of lines trimmed from its start (appendLogLines). Returns { first line's absolute
  number, lines }; past a trim, the first line kept comes after the asked one.
  KEYS[1]  the instance's hash (ti:{dag}:{run}:{task}:{map})
  KEYS[2]  the try's log (log:{dag}:{run}:{task}:{map}:{try})
  ARGV[1]  try
  ARGV[2]  from (absolute line number)
  ARGV[3]  count
  Emits    nothing (reads only)
]]
local from, count = tonumber(ARGV[2]), tonumber(ARGV[3])
local trimmed = tonumber(rcall('HGET', KEYS[1], 'logTrimmed:' .. ARGV[1])) or 0
local start = math.max(0, from - trimmed)
return { trimmed + start, rcall('LRANGE', KEYS[2], start, start + count - 1) }
