-- report applies a classified failure to a key. ARGV[3] id, ARGV[4] kind,
-- ARGV[5] reason, ARGV[6] until (ms; the cooldown end or a known reset),
-- ARGV[7] the actor for the audit trail, ARGV[8] the report's id ('' for
-- none), ARGV[9] when a key it disables is checked next (ms from now; 0
-- leaves the schedule alone), ARGV[10] the longest a report parks a key
-- (ms; 0 for no bound: a validator decides), ARGV[11] the fewest active
-- keys reports leave (0 for no floor).
-- A report whose id was applied in the last hour is not applied again: a
-- retry after a lost reply, or a replay from a broker's outage buffer,
-- changes nothing twice.
-- Returns {0} for an unknown key, else
-- {1, old state, new state, reason, until, note} where note is '' or
-- 'min_active' (the floor kept the key active).
--
-- Reports only ever park keys further: suspect and quarantined keys leave
-- only through the worker, an admin or their park bound, so that a report
-- can never bring back a key someone said was invalid, and a report on a
-- key already parked that way changes nothing but the counters (a flood
-- cannot postpone a re-check or stretch a park). A key that becomes suspect
-- goes to the head of the worker's schedule to be verified at once; a key a
-- report disables is re-checked after the disabled interval, like one the
-- worker disabled.
-- Transient and unclassified failures are counted and change nothing.
local id, kind, reason, until_ms, actor, report_id = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
local disabled_in, park, floor = tonumber(ARGV[9] or 0), tonumber(ARGV[10] or 0), tonumber(ARGV[11] or 0)
local k = kkey(id)
local st = redis.call('HGET', k, 'st')
if not st then return {0} end

local function current(note)
  local cur = redis.call('HMGET', k, 'rsn', 'un')
  return {1, st, redis.call('HGET', k, 'st'), cur[1] or '', tonumber(cur[2] or 0), note or ''}
end

if report_id ~= '' and not redis.call('SET', prefix .. 'rep:' .. report_id, 1, 'NX', 'EX', 3600) then
  return current()
end
redis.call('HINCRBY', k, 'nf', 1)
redis.call('HSET', k, 'fk', kind)

local parks = kind == 'invalid_key' or kind == 'quota_exhausted' or kind == 'permission_denied'
if parks and st == ACTIVE and floor > 0 and redis.call('SCARD', SELECTABLE) <= floor then
  return current('min_active')
end

-- bounded caps how long a report parks a key where nothing re-checks it.
-- A known reset (a per-day quota's, at most a day away) is kept.
local function bounded(at)
  if park <= 0 or at > 0 then return at end
  return now + park
end

if kind == 'rate_limited' and (st == ACTIVE or st == COOLING) then
  if st == COOLING then
    until_ms = math.max(until_ms, tonumber(redis.call('HGET', k, 'un') or 0))
  end
  set_state(id, st, COOLING, reason, until_ms, actor)
elseif (kind == 'quota_exhausted' or kind == 'permission_denied') and (st == ACTIVE or st == COOLING) then
  if kind == 'permission_denied' then until_ms = 0 end
  set_state(id, st, DISABLED, reason, bounded(until_ms), actor)
  redis.call('HSET', k, 'pk', kind)
  if disabled_in > 0 then redis.call('ZADD', DUE, now + disabled_in, id) end
elseif kind == 'invalid_key' and (st == ACTIVE or st == COOLING or st == DISABLED) then
  set_state(id, st, SUSPECT, reason, bounded(0), actor)
  if park <= 0 then verify_soon(id) end
else
  return current()
end
publish('changed', {id})
return current()
