--[[
  Trigger rules (Airflow semantics): whether a task in state none runs, is skipped or
  upstream_failed, or keeps waiting, from the states of its upstreams. Every instance of a
  mapped upstream counts, as in Airflow; inside a mapped task group only the same copy of an
  upstream in the group does. dependsOnPast is checked here too.
]]
--- @include "includes/run-context"

-- dependsOnPast: the same task in the previous run (by logical date) must have succeeded or
-- been skipped; with waitForDownstream (`n.wfd`), so must its direct downstream there. The
-- sweep re-evaluates waiting instances when that changes.
local function pastAllows(c, task, n)
  local logical = rcall('HGET', c.runKey, 'logicalDate')
  local prev = rcall('ZREVRANGEBYSCORE', c.runsKey, '(' .. logical, '-inf', 'LIMIT', 0, 1)
  if #prev == 0 then return true end
  local tis = Keys.tiStates(c.p, c.dag, prev[1])
  local function done(t)
    local s = rcall('HGET', tis, t .. ':' .. UNMAPPED)
    return s == nil or s == false or s == 'success' or s == 'skipped'
  end
  if not done(task) then return false end
  if n and n.wfd then
    for _, d in ipairs(n.d) do
      if not done(d) then return false end
    end
  end
  return true
end

-- Whether upstream `u` is in the same mapped task group as `n`: then only the same copy of
-- it counts for a copy of `n`.
local function sameGroup(c, n, u)
  if not (n.m and n.m.g) then return false end
  local un = node(c, u)
  return un.m ~= nil and un.m.g == n.m.g
end

-- Decides what a task in state none should do given its upstream states:
-- 'run', a final state ('skipped' / 'upstream_failed'), or nil to keep waiting.
-- Every instance of a mapped upstream counts, as in Airflow. With `mi`, decides copy `mi` of
-- a task in a mapped group: its upstreams in the group count by their own copy `mi`.
local function decide(c, n, mi)
  local total = #n.u
  local success, skipped, failed, upFailed = 0, 0, 0, 0
  for _, u in ipairs(n.u) do
    local s = tiState(c, u)
    local m = (not s) and mapCounts(c, u)
    if m and mi and sameGroup(c, n, u) then
      s = tiState(c, u, mi)
      m = nil
    end
    if m then
      total = total + m.n - 1
      success = success + m.success
      skipped = skipped + m.skipped
      failed = failed + m.failed
      upFailed = upFailed + m.upstream_failed
    elseif s == 'success' then success = success + 1
    elseif s == 'skipped' then skipped = skipped + 1
    elseif s == 'failed' then failed = failed + 1
    elseif s == 'upstream_failed' then upFailed = upFailed + 1 end
  end
  local done = success + skipped + failed + upFailed
  local allDone = done == total
  local r = n.r
  if r == 'always' then return 'run' end
  if r == 'all_success' then
    if failed + upFailed > 0 then return 'upstream_failed' end
    if skipped > 0 then return 'skipped' end
    if success == total then return 'run' end
  elseif r == 'all_failed' then
    if success + skipped > 0 then return 'skipped' end
    if allDone then return 'run' end
  elseif r == 'all_done' then
    if allDone then return 'run' end
  elseif r == 'all_done_min_one_success' then
    -- As Airflow decides it: a skipped upstream skips the task at once; otherwise it waits
    -- for all, then runs when one succeeded.
    if skipped > 0 then return 'skipped' end
    if allDone then
      if success > 0 then return 'run' end
      return 'upstream_failed'
    end
  elseif r == 'all_skipped' then
    if success + failed + upFailed > 0 then return 'skipped' end
    if skipped == total then return 'run' end
  elseif r == 'one_success' then
    if success > 0 then return 'run' end
    if allDone then
      if skipped == total then return 'skipped' end
      return 'upstream_failed'
    end
  elseif r == 'one_failed' then
    if failed + upFailed > 0 then return 'run' end
    if allDone then return 'skipped' end
  elseif r == 'one_done' then
    if success + failed > 0 then return 'run' end
    if allDone then return 'skipped' end
  elseif r == 'none_failed' then
    if failed + upFailed > 0 then return 'upstream_failed' end
    if allDone then return 'run' end
  elseif r == 'none_failed_min_one_success' then
    if failed + upFailed > 0 then return 'upstream_failed' end
    if allDone then
      if skipped == total then return 'skipped' end
      return 'run'
    end
  elseif r == 'none_skipped' then
    if skipped > 0 then return 'skipped' end
    if allDone then return 'run' end
  elseif r == 'all_done_setup_success' then
    -- A teardown: once all upstream are done, it runs if it has no setup upstream or one of
    -- them succeeded (every instance of a mapped setup counts); else nothing needs undoing.
    if allDone then
      local setups, ok = 0, 0
      for _, u in ipairs(n.u) do
        local un = node(c, u)
        if un and un.st then
          setups = setups + 1
          local s = tiState(c, u)
          local m = (not s) and mapCounts(c, u)
          if s == 'success' or (m and m.success > 0) then ok = ok + 1 end
        end
      end
      if setups == 0 or ok > 0 then return 'run' end
      return 'skipped'
    end
  end
  return nil
end

-- A task of a mapped group with an upstream in the same group: its copies wait for copies.
local function innerOfGroup(c, n)
  if not (n.m and n.m.g) then return false end
  for _, u in ipairs(n.u) do
    if sameGroup(c, n, u) then return true end
  end
  return false
end
