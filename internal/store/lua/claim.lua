-- claim hands out keys whose check is due and holds them so that no other
-- worker takes them meanwhile: ARGV[3] is the most keys to claim, ARGV[4]
-- how long a claim holds (ms). A claimed key's next check moves to now +
-- hold; the worker's result (apply) moves it again. A worker that dies
-- simply lets its claims lapse: the keys fall due again once the hold
-- passes, and any worker picks them up. Nobody has to elect a leader.
--
-- Keys are handed out by due time, suspect keys (score 0) first. Cooling
-- down keys are not checked (the provider just said to wait); they move to
-- when they return. Returns {keys looked at, {{id, secret, state}...}}.
wake(100)
local limit, hold = tonumber(ARGV[3]), tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', DUE, '-inf', now, 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(due) do
  local f = redis.call('HMGET', kkey(id), 'st', 's', 'un')
  if not f[1] then
    redis.call('ZREM', DUE, id)
  elseif f[1] == COOLING then
    redis.call('ZADD', DUE, math.max(tonumber(f[3]) or 0, now + hold), id)
  else
    redis.call('ZADD', DUE, now + hold, id)
    out[#out + 1] = {id, f[2], f[1]}
  end
end
return {#due, out}
