--[[
  The scheduler's safety net for pools: drops any slot held by an instance that is no
  longer running, and any wait by one that is no longer queued (a run deleted, a key
  lost). Slots are given back on every transition already; this only repairs. Idempotent.
  Returns the number of entries dropped.
  KEYS[1]  pools                   pool name → JSON { slots, description }
  (each pool's occupants and their runs' tis hashes: built from ARGV[1], see includes/keys)
  (keys of other runs, instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  Emits    nothing
]]
--- @include "includes/keys"
local prefix = ARGV[1]
local function stateOf(o)
  local dag, rest = string.match(o, '^([^|]*)|(.*)$')
  local run, ti = string.match(rest, '^(.*)|([^|]*)$')
  return rcall('HGET', Keys.tiStates(prefix, dag, run), ti)
end
local dropped = 0
local names = rcall('HKEYS', KEYS[1])
names[#names + 1] = 'default_pool'
for _, pool in ipairs(names) do
  for _, kind in ipairs({ 'used', 'queued' }) do
    local key = Keys.poolUsed(prefix, pool)
    if kind == 'queued' then key = Keys.poolQueued(prefix, pool) end
    for _, o in ipairs(rcall('HKEYS', key)) do
      local s = stateOf(o)
      local ok = (kind == 'used' and s == 'running') or (kind == 'queued' and (s == 'queued' or s == 'up_for_retry' or s == 'up_for_reschedule'))
      if not ok then
        rcall('HDEL', key, o)
        dropped = dropped + 1
      end
    end
  end
end
return dropped
