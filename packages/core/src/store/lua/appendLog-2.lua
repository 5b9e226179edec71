--[[
  Appends log lines to one try of a task instance, trimmed to the cap with the trimmed
  lines counted (see appendLogLines), and sets fields on the instance in the same step.
  Nothing is written when the instance does not exist (its run was deleted, or lost in a
  Redis failover): such keys would outlive every retention.
  KEYS[1]  the instance's hash (ti:{dag}:{run}:{task}:{map})
  KEYS[2]  the try's log (log:{dag}:{run}:{task}:{map}:{try})
  ARGV[1]  try
  ARGV[2]  cap (lines kept)
  ARGV[3]  fields to set on the instance (JSON object, or '')
  ARGV[4…]  the lines (JSON each)
  Returns  1, or 0 when the instance does not exist
  Emits    nothing
]]
--- @include "includes/logs"
local tiK, logK = KEYS[1], KEYS[2]
if rcall('EXISTS', tiK) == 0 then return 0 end
if ARGV[3] ~= '' then
  local f = {}
  for k, v in pairs(cjson.decode(ARGV[3])) do
    f[#f + 1] = k
    f[#f + 1] = v
  end
  if #f > 0 then rcall('HSET', tiK, unpack(f)) end
end
appendLogLines(logK, tiK, ARGV[1], 4, ARGV[2])
return 1
