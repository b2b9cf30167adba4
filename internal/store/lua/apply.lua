-- apply records what the worker found when it checked a key and moves the
-- key accordingly, in one step with its schedule and the audit trail.
--   ARGV[3] id            ARGV[4] state when claimed
--   ARGV[5] outcome: 'valid' or a failure kind
--   ARGV[6] reason        ARGV[7] until (ms; cooldown end or quota reset)
--   ARGV[8] 'remove' to remove exhausted keys, else they are disabled
--   ARGV[9..11] next check after a result for an active key, for a
--               disabled key, and after a fault (ms from now)
--   ARGV[12] actor        ARGV[13..15] balance limit, used, expiry ('' none)
-- Returns {0} for a key no longer in the pool, else
-- {1, old state, new state ('removed' too), reason, until}.
--
-- A fault (transient, unclassified) changes nothing but the schedule: the
-- key is exactly as it was, and is tried again after the fault delay.
-- Invalid takes two strikes: an active or disabled key becomes suspect and
-- is verified again at once; a suspect key is removed. Someone else's
-- change while the check ran wins: the key is checked again instead.
local id, seen, outcome, reason = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local until_ms, on_exhausted = tonumber(ARGV[7]), ARGV[8]
local active_in, disabled_in, retry_in = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local actor = ARGV[12]
local k = kkey(id)
local st = redis.call('HGET', k, 'st')
if not st then
  redis.call('ZREM', DUE, id)
  return {0}
end

local function current(new)
  local cur = redis.call('HMGET', k, 'rsn', 'un')
  return {1, st, new, cur[1] or '', tonumber(cur[2] or 0)}
end

local function schedule(state)
  local at = now + active_in
  if state == SUSPECT then
    at = 0
  elseif state == DISABLED then
    at = now + disabled_in
  elseif state == COOLING then
    at = math.max(tonumber(redis.call('HGET', k, 'un')) or 0, now + retry_in)
  end
  redis.call('ZADD', DUE, at, id)
end

if outcome == 'transient' or outcome == 'unclassified' then
  redis.call('ZADD', DUE, now + retry_in, id)
  return current(st)
end

redis.call('HSET', k, 'lv', now)
if ARGV[13] ~= '' then
  redis.call('HSET', k, 'bl', ARGV[13], 'bu', ARGV[14], 'bx', ARGV[15])
end
if st ~= seen then
  if st == COOLING then schedule(st) else redis.call('ZADD', DUE, now, id) end
  return current(st)
end

local new = st
if outcome == 'valid' then
  if st == SUSPECT or st == DISABLED then new, until_ms = ACTIVE, 0 end
elseif outcome == 'invalid_key' then
  if st == SUSPECT then
    delete_key(id, st, reason, actor)
    publish('removed', {id})
    return {1, st, REMOVED, reason, 0}
  end
  new, until_ms = SUSPECT, 0
elseif outcome == 'quota_exhausted' then
  if on_exhausted == 'remove' then
    delete_key(id, st, reason, actor)
    publish('removed', {id})
    return {1, st, REMOVED, reason, 0}
  end
  new = DISABLED
elseif outcome == 'permission_denied' then
  new, until_ms = DISABLED, 0
elseif outcome == 'rate_limited' and st == ACTIVE then
  new = COOLING
end

if new == st then
  if outcome == 'rate_limited' then
    redis.call('ZADD', DUE, math.max(until_ms, now + retry_in), id)
  else
    schedule(st)
  end
  return current(st)
end
set_state(id, st, new, reason, until_ms, actor)
schedule(new)
publish('changed', {id})
return current(new)
