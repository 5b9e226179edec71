--[[
  The scheduler's safety net for pools: drops any slot held by an instance that is no
  longer running, and any wait by one that is no longer queued (a run deleted, a key
  lost). Slots are given back on every transition already; this only repairs. Idempotent.
  Returns the number of entries dropped.
  ARGV: prefix
]]
local prefix = ARGV[1]
local function stateOf(o)
  local dag, rest = string.match(o, '^([^|]*)|(.*)$')
  local run, ti = string.match(rest, '^(.*)|([^|]*)$')
  return redis.call('HGET', prefix .. ':tis:' .. dag .. ':' .. run, ti)
end
local dropped = 0
local names = redis.call('HKEYS', prefix .. ':pools')
names[#names + 1] = 'default_pool'
for _, pool in ipairs(names) do
  for _, kind in ipairs({ 'used', 'queued' }) do
    local key = prefix .. ':pool-' .. kind .. ':' .. pool
    for _, o in ipairs(redis.call('HKEYS', key)) do
      local s = stateOf(o)
      local ok = (kind == 'used' and s == 'running') or (kind == 'queued' and (s == 'queued' or s == 'up_for_retry' or s == 'up_for_reschedule'))
      if not ok then
        redis.call('HDEL', key, o)
        dropped = dropped + 1
      end
    end
  end
end
return dropped
