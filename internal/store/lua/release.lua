-- release lifts a pool's removal hold on an admin's behalf: every key the
-- brake held back (still suspect, confirmed invalid) is quarantined now,
-- and the brake's window starts afresh. Quarantine is not loss: the keys
-- are re-checked every disabled interval and can be restored. ARGV[3] is
-- the actor, ARGV[4] when the quarantined keys are checked next (ms from
-- now). Returns the ids quarantined.
local actor, disabled_in = ARGV[3], tonumber(ARGV[4])
local ids = redis.call('SMEMBERS', HELD)
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', kkey(id), 'st', 'rsn')
  if f[1] == SUSPECT then
    set_state(id, SUSPECT, QUARANTINED, f[2] or 'released_by_admin', 0, actor)
    redis.call('ZADD', DUE, now + disabled_in, id)
    out[#out + 1] = id
  end
end
redis.call('DEL', HELD, HOLD, REMOVALS)
publish('changed', out)
return out
