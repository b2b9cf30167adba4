-- Shared prelude of every keybroker script. All keys of a pool share the
-- hash tag {pool}, so scripts may build them from the prefix and stay atomic
-- in Redis Cluster. ARGV[1] is the pool's key prefix, ARGV[2] the time in
-- unix milliseconds; the rest belongs to the script.
local prefix = ARGV[1]
local now = tonumber(ARGV[2])

local ACTIVE, COOLING, SUSPECT, DISABLED = 'active', 'cooling_down', 'suspect', 'disabled'
local STATES = {ACTIVE, COOLING, SUSPECT, DISABLED}

local function kkey(id) return prefix .. 'k:' .. id end
local function ix(state) return prefix .. 'ix:' .. state end
local ALL, SELECTABLE, WAKE, EVENTS = prefix .. 'all', prefix .. 'active', prefix .. 'wake', prefix .. 'events'

-- set_state moves a key to a state and keeps every index in step with it:
-- the per-state lexical index, the selectable set and the wake-up schedule.
local function set_state(id, old, new, reason, until_ms)
  if old ~= new then
    if old then redis.call('ZREM', ix(old), id) end
    redis.call('ZADD', ix(new), 0, id)
  end
  if new == ACTIVE then
    redis.call('SADD', SELECTABLE, id)
  else
    redis.call('SREM', SELECTABLE, id)
  end
  if until_ms > 0 then
    redis.call('ZADD', WAKE, until_ms, id)
  else
    redis.call('ZREM', WAKE, id)
  end
  redis.call('HSET', kkey(id), 'st', new, 'rsn', reason, 'un', until_ms)
end

-- publish tells replicas which keys changed, so their views refresh at once.
local function publish(event, ids)
  if #ids > 0 then
    redis.call('PUBLISH', EVENTS, event .. ' ' .. table.concat(ids, ' '))
  end
end

-- wake returns keys whose cooldown or reset time has passed to active.
local function wake(limit)
  local due = redis.call('ZRANGEBYSCORE', WAKE, '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    local st = redis.call('HGET', kkey(id), 'st')
    if st then
      set_state(id, st, ACTIVE, 'recovered', 0)
    else
      redis.call('ZREM', WAKE, id)
    end
  end
  publish('changed', due)
end
