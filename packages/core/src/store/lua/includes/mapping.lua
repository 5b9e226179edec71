--[[
  Mapping: a mapped task expands, once its upstreams allow it, into one instance per element
  (the product of its mapped arguments' lengths), replacing its instance -1; a mapped task
  group expands as a whole, and copy i of a task in it waits for copy i of its upstreams in
  the group. An empty list skips the task; more instances than its maxMapLength fail it.
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/jobs"
--- @include "includes/finalize"
--- @include "includes/trigger-rules"

-- Decides one copy of a task in a mapped group, as evaluate does a whole task.
local function evaluateCopy(c, task, mi)
  if tiState(c, task, mi) ~= 'none' then return end
  local n = node(c, task)
  local d = decide(c, n, mi)
  if d == nil then return end
  if d == 'run' then
    enqueue(c, task, n, 0, mi)
  else
    finalize(c, task, d, nil, nil, mi)
  end
end

-- Every copy of an expanded task of a mapped group (an upstream outside the group changed).
local function evaluateCopies(c, task)
  local m = mapCounts(c, task)
  if not m then return end
  for i = 0, m.n - 1 do evaluateCopy(c, task, tostring(i)) end
end

-- How many instances a mapped task expands to, or nil and the reason it cannot: the
-- product of its mapped arguments' lengths (literal lists, an upstream's list output, or a
-- mapped upstream's instances).
local function mapLength(c, task, n)
  local total = 1
  for _, s in ipairs(n.m.s) do
    local len = s.n
    if not len then
      local un = node(c, s.t)
      if un.m and not tiState(c, s.t) then
        len = mapCounts(c, s.t).n
      elseif un.m then
        len = 0
      else
        local raw = rcall('HGET', c.outKey, s.t .. ':' .. UNMAPPED)
        if not raw then return nil, 'upstream "' .. s.t .. '" left no output to expand "' .. s.a .. '" over' end
        local ok, v = pcall(cjson.decode, raw)
        if not ok or type(v) ~= 'table' or not string.find(raw, '^%s*%[') then
          return nil, 'the output of "' .. s.t .. '" is not a list, so "' .. s.a .. '" cannot expand over it'
        end
        len = #v
      end
    end
    total = total * len
  end
  return total
end

-- Replaces a mapped task's instance -1 with one instance per element and enqueues them all.
-- An empty list skips the task; more instances than its cap fail it.
local function expand(c, task, n)
  local total, why = mapLength(c, task, n)
  if not total then
    finalize(c, task, 'failed', { 'reason', why }, why)
    return
  end
  if total == 0 then
    finalize(c, task, 'skipped', { 'reason', 'expanded over an empty list' }, 'expanded over an empty list')
    return
  end
  if total > n.m.x then
    why = 'expands to ' .. total .. ' instances, over its limit of ' .. n.m.x .. ' (maxMapLength)'
    finalize(c, task, 'failed', { 'reason', why }, why)
    return
  end
  rcall('HDEL', c.tisKey, task .. ':' .. UNMAPPED)
  rcall('HSET', tiKey(c, task), 'state', 'mapped', 'mapped', total, 'startDate', c.now)
  rcall('HSET', c.mapKey, task .. ':n', total)
  rcall('HINCRBY', c.runKey, 'unfinished', total - 1)
  emit(c, 'ti', task, 'mapped', tostring(total))
  if not innerOfGroup(c, n) then
    for i = 0, total - 1 do enqueue(c, task, n, 0, tostring(i)) end
  else
    -- Inside a mapped group, copy i waits for copy i of its upstreams in the group.
    local batch = {}
    for i = 0, total - 1 do
      batch[#batch + 1] = task .. ':' .. i
      batch[#batch + 1] = 'none'
      if #batch >= 1000 then
        rcall('HSET', c.tisKey, unpack(batch))
        batch = {}
      end
    end
    if #batch > 0 then rcall('HSET', c.tisKey, unpack(batch)) end
    for i = 0, total - 1 do evaluateCopy(c, task, tostring(i)) end
  end
  -- A mapped group expands as a whole: its tasks that wait on others in the group expand now.
  if n.m.g then
    for _, other in ipairs(graphList(c, '__mg:' .. n.m.g)) do
      if other ~= task and tiState(c, other) == 'none' and innerOfGroup(c, node(c, other)) then
        expand(c, other, node(c, other))
      end
    end
  end
end
