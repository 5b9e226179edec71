--[[
  Appends log lines to one try of a task instance, trimmed to the cap with the trimmed
  lines counted (see appendTryLog), and sets fields on the instance in the same step.
  Nothing is written when the instance does not exist (its run was deleted, or lost in a
  Redis failover): such keys would outlive every retention.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6]  try
  ARGV[7]  cap (lines kept)
  ARGV[8]  fields to set on the instance (JSON object, or '')
  ARGV[9…]  the lines (JSON each)
  Returns  1, or 0 when the instance does not exist
  Emits    nothing
]]
--- @include "includes/run-context"
--- @include "includes/logs"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], 0)
local key = tiKey(c, ARGV[4], ARGV[5])
if rcall('EXISTS', key) == 0 then return 0 end
if ARGV[8] ~= '' then
  local f = {}
  for k, v in pairs(cjson.decode(ARGV[8])) do
    f[#f + 1] = k
    f[#f + 1] = v
  end
  if #f > 0 then rcall('HSET', key, unpack(f)) end
end
appendTryLog(c, ARGV[4], ARGV[5], ARGV[6], 9, ARGV[7])
return 1
