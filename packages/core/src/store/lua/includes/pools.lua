--[[
  Pools, as in Airflow: `pools` maps a name to JSON {slots, description}. Per pool, the
  instances holding slots (`pool-used:{name}`) and waiting for them (`pool-queued:{name}`),
  as hashes occupant → slots. An instance records its pool in its own hash when queued.
  Tasks without a pool are in default_pool, which is unlimited (untracked) unless configured.
]]
--- @include "includes/run-context"

local DEFAULT_POOL = 'default_pool'

local function poolConf(c, name)
  local v = SHARED.pools[name]
  if v == nil then
    local raw = rcall('HGET', Keys.pools(c.p), name)
    if raw then v = cjson.decode(raw) else v = false end
    SHARED.pools[name] = v
  end
  return v
end

local function occupant(c, task, mi) return c.dag .. '|' .. c.run .. '|' .. task .. ':' .. mi end

-- Gives back the slots an instance holds or waits for; safe to call more than once.
-- `pool`: the instance's pool field when the caller has read it already.
local function poolLeave(c, task, mi, pool)
  if pool == nil then pool = rcall('HGET', tiKey(c, task, mi), 'pool') end
  if pool then
    local o = occupant(c, task, mi)
    rcall('HDEL', Keys.poolUsed(c.p, pool), o)
    rcall('HDEL', Keys.poolQueued(c.p, pool), o)
  end
end

-- A queued instance waits for `slots` of `pool` (and holds none).
local function poolWait(c, task, mi, pool, slots)
  local o = occupant(c, task, mi)
  rcall('HDEL', Keys.poolUsed(c.p, pool), o)
  rcall('HSET', Keys.poolQueued(c.p, pool), o, slots)
end

-- An instance that stops running without finishing (handed back, rescheduled) gives back
-- its pool slots and waits for them again among the pool's queued.
local function poolRequeue(c, task, mi)
  poolLeave(c, task, mi)
  local pool, need = unpack(rcall('HMGET', tiKey(c, task, mi), 'pool', 'poolSlots'))
  if pool then rcall('HSET', Keys.poolQueued(c.p, pool), occupant(c, task, mi), need) end
end

-- Takes `need` slots of `pool` for a claimed instance, if that many are open; false if not.
local function poolTake(c, task, mi, pool, slots, need)
  local usedKey = Keys.poolUsed(c.p, pool)
  local used = 0
  for _, v in ipairs(rcall('HVALS', usedKey)) do used = used + tonumber(v) end
  if used + need > slots then return false end
  local o = occupant(c, task, mi)
  rcall('HSET', usedKey, o, need)
  rcall('HDEL', Keys.poolQueued(c.p, pool), o)
  return true
end
