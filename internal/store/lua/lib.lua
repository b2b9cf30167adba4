-- Shared prelude of every keybroker script. All keys of a pool share the
-- hash tag {pool}, so scripts may build them from the prefix and stay atomic
-- in Redis Cluster. ARGV[1] is the pool's key prefix, ARGV[2] the time in
-- unix milliseconds; the rest belongs to the script.
local prefix = ARGV[1]
local now = tonumber(ARGV[2])

-- AUDIT_MAX caps each of a pool's audit streams (approximately: Redis trims
-- whole stream nodes) unless the pool's audit_length is stored in
-- kb:{pool}:audit:max. store.AuditLength says the same in Go.
local AUDIT_MAX = 10000

local ACTIVE, COOLING, SUSPECT, DISABLED = 'active', 'cooling_down', 'suspect', 'disabled'
local QUARANTINED = 'quarantined'
local REMOVED = 'removed' -- never stored: only in transitions and the audit trail
local STATES = {ACTIVE, COOLING, SUSPECT, DISABLED, QUARANTINED}

-- count reads a stored counter: anything but a whole number from 0 to
-- 2^53 (written by someone else with access to Redis) reads as 0.
local function count(v)
  local n = tonumber(v)
  if not n or n ~= n or n < 0 or n >= 2^53 or n ~= math.floor(n) then
    return 0
  end
  return n
end

local function kkey(id) return prefix .. 'k:' .. id end
local function ix(state) return prefix .. 'ix:' .. state end
local ALL, SELECTABLE, WAKE, EVENTS = prefix .. 'all', prefix .. 'active', prefix .. 'wake', prefix .. 'events'
local DUE, AUDIT = prefix .. 'due', prefix .. 'audit'
local DECISIONS, AUDIT_SEQ = prefix .. 'audit:decisions', prefix .. 'audit:seq'
local AUDIT_CAP = prefix .. 'audit:max' -- the pool's audit_length, when set
-- The removal brake and quarantine (see quarantine.lua's header):
-- QTIME   zset: quarantined key id -> ms it was quarantined (for the purge)
-- REMOVALS zset: 'id@ms' -> ms, the worker's quarantines in the window
-- HOLD    hash: since, reason of a pool whose brake holds; absent: none
-- HELD    set: suspect key ids the brake keeps from quarantine
local QTIME, REMOVALS = prefix .. 'qtime', prefix .. 'removals'
local HOLD, HELD = prefix .. 'hold', prefix .. 'held'

-- hold_lifted is set by unhold when the last held key leaves the hold, so
-- that a script can tell its caller the brake let go.
local hold_lifted = false

-- unhold takes a key out of the brake's held set; when it was the last
-- one, the hold lifts.
local function unhold(id)
  if redis.call('SREM', HELD, id) == 1 and redis.call('SCARD', HELD) == 0 then
    redis.call('DEL', HOLD)
    hold_lifted = true
  end
end

-- audit appends one state change to the pool's audit trail, capped at about
-- AUDIT_MAX entries per stream. Changes callers cause (failure reports) and
-- their ends (a cooldown over) go to one stream; decisions (an admin's Add
-- or Remove, the worker's verdicts) to another, so no amount of caller
-- churn can push an admin's Remove out of the trail. old is '' for a key
-- that was not in the pool.
local function audit(id, old, new, reason, actor, until_ms)
  local stream = DECISIONS
  if actor == 'broker' or actor == 'report' or string.sub(actor, 1, 7) == 'report:' then
    stream = AUDIT
  end
  -- Entry ids are unique across both streams (one sequence numbers them),
  -- so a page of the merged history can end at any entry. Should Redis's
  -- clock step back behind a stream's last id, Redis picks the id.
  local t = redis.call('TIME')
  local entry = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) .. '-' .. redis.call('INCR', AUDIT_SEQ)
  local cap = tonumber(redis.call('GET', AUDIT_CAP)) or AUDIT_MAX
  local fields = {'t', now, 'k', id, 'f', old or '', 's', new, 'r', reason, 'a', actor, 'u', until_ms or 0}
  local added = redis.pcall('XADD', stream, 'MAXLEN', '~', cap, entry, unpack(fields))
  if type(added) == 'table' and added.err then
    redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', unpack(fields))
  end
end

-- set_state moves a key to a state and keeps every index in step with it:
-- the per-state lexical index, the selectable set and the wake-up schedule.
-- A change of state is written to the audit trail on behalf of actor.
local function set_state(id, old, new, reason, until_ms, actor)
  if old ~= new then
    if old then redis.call('ZREM', ix(old), id) end
    redis.call('ZADD', ix(new), 0, id)
    audit(id, old, new, reason, actor, until_ms)
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
  -- fb (the worker's first bad answer) lives only while suspect; pk (the
  -- kind of refusal a report parked a key for) only while disabled; qa
  -- and QTIME (when quarantined) only while quarantined.
  if new ~= SUSPECT then
    redis.call('HDEL', kkey(id), 'fb')
    unhold(id)
  end
  if new ~= DISABLED then redis.call('HDEL', kkey(id), 'pk') end
  if new == QUARANTINED then
    if old ~= QUARANTINED then
      redis.call('ZADD', QTIME, now, id)
      redis.call('HSET', kkey(id), 'qa', now)
    end
  elseif old == QUARANTINED then
    redis.call('ZREM', QTIME, id)
    redis.call('HDEL', kkey(id), 'qa')
  end
end

-- delete_key removes a key in state st and every index entry for it, and
-- records the removal in the audit trail.
local function delete_key(id, st, reason, actor)
  redis.call('ZREM', ix(st), id)
  redis.call('ZREM', ALL, id)
  redis.call('SREM', SELECTABLE, id)
  redis.call('ZREM', WAKE, id)
  redis.call('ZREM', DUE, id)
  redis.call('ZREM', QTIME, id)
  unhold(id)
  redis.call('DEL', kkey(id))
  redis.call('HDEL', prefix .. 'bl', id .. ':t', id .. ':l')
  audit(id, st, REMOVED, reason, actor, 0)
end

-- verify_soon puts a key at the head of the worker's schedule: score 0 sorts
-- before every key that is merely due, so a suspect key is checked next.
local function verify_soon(id)
  redis.call('ZADD', DUE, 0, id)
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
      set_state(id, st, ACTIVE, 'recovered', 0, 'broker')
    else
      redis.call('ZREM', WAKE, id)
    end
  end
  publish('changed', due)
end
