-- report applies a classified failure to a key. ARGV[3] id, ARGV[4] kind,
-- ARGV[5] reason, ARGV[6] until (ms; the cooldown end or a known reset),
-- ARGV[7] the actor for the audit trail, ARGV[8] the report's id ('' for
-- none). A report whose id was applied in the last hour is not applied
-- again: a retry after a lost reply, or a replay from a broker's outage
-- buffer, changes nothing twice.
-- Returns {0} for an unknown key, else {1, old state, new state, reason, until}.
--
-- Suspect keys leave only through the worker or an admin, so that a report
-- can never bring back a key someone said was invalid; a key that becomes
-- suspect goes to the head of the worker's schedule to be verified at once.
-- Transient and unclassified failures are counted and change nothing.
local id, kind, reason, until_ms, actor, report_id = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
local k = kkey(id)
local st = redis.call('HGET', k, 'st')
if not st then return {0} end
if report_id ~= '' and not redis.call('SET', prefix .. 'rep:' .. report_id, 1, 'NX', 'EX', 3600) then
  local cur = redis.call('HMGET', k, 'rsn', 'un')
  return {1, st, st, cur[1] or '', tonumber(cur[2] or 0)}
end
redis.call('HINCRBY', k, 'nf', 1)
redis.call('HSET', k, 'fk', kind)

local new, changes = st, false
if kind == 'rate_limited' and (st == ACTIVE or st == COOLING) then
  new, changes = COOLING, true
  if st == COOLING then
    until_ms = math.max(until_ms, tonumber(redis.call('HGET', k, 'un') or 0))
  end
elseif (kind == 'quota_exhausted' or kind == 'permission_denied') and st ~= SUSPECT then
  new, changes = DISABLED, true
elseif kind == 'invalid_key' then
  new, changes, until_ms = SUSPECT, true, 0
end

if changes then
  set_state(id, st, new, reason, until_ms, actor)
  if new == SUSPECT then verify_soon(id) end
  publish('changed', {id})
end
local cur = redis.call('HMGET', k, 'rsn', 'un')
return {1, st, new, cur[1] or '', tonumber(cur[2] or 0)}
