-- apply records what the worker found when it checked a key and moves the
-- key accordingly, in one step with its schedule and the audit trail.
--   ARGV[3] id            ARGV[4] state when claimed
--   ARGV[5] outcome: 'valid' or a failure kind
--   ARGV[6] reason        ARGV[7] until (ms; cooldown end or quota reset)
--   ARGV[8] 'remove' to quarantine exhausted keys, else they are disabled
--   ARGV[9..11] next check after a result for an active key, for a
--               disabled or quarantined key, and after a fault (ms from now)
--   ARGV[12] actor        ARGV[13..15] balance limit, used, expiry ('' none)
--   ARGV[16] confirm delay (ms): the least time between the first bad
--            answer and the check that confirms it
--   ARGV[17] the brake's allowance as a count, ARGV[18] as a percentage of
--            the pool (used when above 0), ARGV[19] its window (ms)
--            (no brake when both are 0)
--   ARGV[20] the failure kinds this validator can observe, ',a,b,', or
--            '*' for every kind
-- Returns {0} for a key no longer in the pool, else
-- {1, old state, new state, reason, until, brake} where brake is '' or
-- 'held' (the brake kept the key suspect), 'hold_started' (and this check
-- started the hold) or 'hold_lifted' (this check released the last held
-- key).
--
-- A fault (transient, unclassified) changes nothing but the schedule: the
-- key is exactly as it was, and is tried again after the fault delay.
-- Invalid takes two strikes at least confirm_delay apart: the first bad
-- answer makes a key suspect (a caller's report does not count as one);
-- the confirming one quarantines it, unless the pool's removal brake holds.
-- A quarantined key is re-checked every disabled interval and comes back
-- when valid. A disabled key parked by a caller's report for a refusal
-- this validator cannot observe is not cleared by it. Someone else's
-- change while the check ran wins: the key is checked again instead.
local id, seen, outcome, reason = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local until_ms, on_exhausted = tonumber(ARGV[7]), ARGV[8]
local active_in, disabled_in, retry_in = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local actor = ARGV[12]
local confirm_in = tonumber(ARGV[16])
local allow_n, allow_pct, window = tonumber(ARGV[17]), tonumber(ARGV[18]), tonumber(ARGV[19])
local observes = ARGV[20]
local k = kkey(id)
local st = redis.call('HGET', k, 'st')
if not st then
  redis.call('ZREM', DUE, id)
  return {0}
end

local function current(new, brake)
  local cur = redis.call('HMGET', k, 'rsn', 'un')
  if not brake and hold_lifted then brake = 'hold_lifted' end
  return {1, st, new, cur[1] or '', tonumber(cur[2] or 0), brake or ''}
end

local function schedule(state)
  local at = now + active_in
  if state == DISABLED or state == QUARANTINED then
    at = now + disabled_in
  elseif state == COOLING then
    at = math.max(tonumber(redis.call('HGET', k, 'un')) or 0, now + retry_in)
  end
  redis.call('ZADD', DUE, at, id)
end

-- move changes the key's state, schedules its next check and tells
-- replicas.
local function move(new, why, until_at)
  set_state(id, st, new, why, until_at, actor)
  schedule(new)
  publish('changed', {id})
  return current(new)
end

-- brake_allows says whether the pool may quarantine one more key now: at
-- most the allowance per window, and none while a hold stands.
local function brake_allows()
  if allow_n <= 0 and allow_pct <= 0 then return true end -- no brake
  if redis.call('EXISTS', HOLD) == 1 then return false end
  redis.call('ZREMRANGEBYSCORE', REMOVALS, '-inf', now - window)
  local allowance = allow_n
  if allow_pct > 0 then
    allowance = math.max(1, math.floor(redis.call('ZCARD', ALL) * allow_pct / 100))
  end
  return redis.call('ZCARD', REMOVALS) < allowance
end

-- quarantine takes the key out of rotation for good, counted by the brake.
local function quarantine()
  redis.call('ZADD', REMOVALS, now, id .. '@' .. now)
  return move(QUARANTINED, reason, 0)
end

-- hold keeps a confirmed-invalid key suspect because the brake holds,
-- starting the hold if this is the first such key, and re-checks it soon:
-- an upstream that recovers brings every held key back by itself.
local function hold()
  local started = redis.call('EXISTS', HOLD) == 0
  if started then
    redis.call('HSET', HOLD, 'since', now, 'reason', reason)
  end
  redis.call('SADD', HELD, id)
  redis.call('ZADD', DUE, now + math.min(retry_in, disabled_in), id)
  return current(st, started and 'hold_started' or 'held')
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

if st == QUARANTINED then
  if outcome == 'valid' then return move(ACTIVE, 'verified', 0) end
  schedule(st)
  return current(st)
end

if outcome == 'valid' then
  if st == DISABLED then
    local parked = redis.call('HGET', k, 'pk')
    if parked and observes ~= '*' and not string.find(observes, ',' .. parked .. ',', 1, true) then
      schedule(st) -- this validator cannot see what parked the key
      return current(st)
    end
  end
  if st == SUSPECT or st == DISABLED then return move(ACTIVE, reason, 0) end
  schedule(st)
  return current(st)
end

if outcome == 'invalid_key' then
  local first = tonumber(redis.call('HGET', k, 'fb') or 0)
  if st ~= SUSPECT or first == 0 then
    if st ~= SUSPECT then
      set_state(id, st, SUSPECT, reason, 0, actor)
      publish('changed', {id})
    end
    redis.call('HSET', k, 'fb', now)
    redis.call('ZADD', DUE, now + confirm_in, id)
    return current(SUSPECT)
  end
  if now < first + confirm_in then
    redis.call('ZADD', DUE, first + confirm_in, id)
    return current(st)
  end
  if brake_allows() then return quarantine() end
  return hold()
end

if outcome == 'quota_exhausted' then
  if on_exhausted == 'remove' and brake_allows() then return quarantine() end
  if st == DISABLED then
    schedule(st)
    return current(st)
  end
  return move(DISABLED, reason, until_ms)
end

if outcome == 'permission_denied' then
  if st == DISABLED then
    schedule(st)
    return current(st)
  end
  return move(DISABLED, reason, 0)
end

if outcome == 'rate_limited' then
  if st == ACTIVE then return move(COOLING, reason, until_ms) end
  redis.call('ZADD', DUE, math.max(until_ms, now + retry_in), id)
  return current(st)
end

schedule(st)
return current(st)
