--[[
  Events: every transition appends one entry to the events stream (capped), which the
  dashboard follows. Fields: type (ti | run | sla), dag, run, task, state, at, detail, and
  map for a mapped instance (left out for unmapped ones; readers take its absence as -1).
]]
--- @include "includes/run-context"

local EVENTS_KEPT = 10000

local function emit(c, kind, task, state, detail, mi)
  if mi and mi ~= UNMAPPED then
    rcall('XADD', c.eventsKey, 'MAXLEN', '~', EVENTS_KEPT, '*', 'type', kind, 'dag', c.dag, 'run', c.run,
      'task', task or '', 'state', state, 'at', c.now, 'detail', detail or '', 'map', mi)
  else
    rcall('XADD', c.eventsKey, 'MAXLEN', '~', EVENTS_KEPT, '*', 'type', kind, 'dag', c.dag, 'run', c.run,
      'task', task or '', 'state', state, 'at', c.now, 'detail', detail or '')
  end
end
