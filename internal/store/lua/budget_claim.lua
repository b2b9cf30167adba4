-- budget_claim: hand out slices of keys' rate-limit budgets. Each replica
-- claims part of a key's window budget and spends it from memory; the
-- window's count here is the sum of every replica's claims (and of the
-- floors reported providers' headers set), so together the replicas never
-- admit more than the limit. ARGV[3] is how long a window's count lives
-- (ms); then groups of six: key id, window number, request limit, requests
-- wanted, token limit, tokens wanted (limit 0: not limited). Returns per
-- group: requests granted, tokens granted, requests used, tokens used.
-- A count that is not a whole number of at least 0 (written by someone
-- else with access to Redis) counts as 0 and is overwritten: it can give
-- back at most one window's limit, never an unbounded grant or an error
-- that turns budgets off.
local ttl = tonumber(ARGV[3])
local out = {}
local touched = {}
for i = 4, #ARGV, 6 do
  local id, win = ARGV[i], ARGV[i + 1]
  local lim_r, want_r = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local lim_t, want_t = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
  local h = prefix .. 'bw:' .. win
  local used_r = count(redis.call('HGET', h, id .. ':r'))
  local used_t = count(redis.call('HGET', h, id .. ':t'))
  local got_r, got_t = 0, 0
  if lim_r > 0 and want_r > 0 then
    got_r = math.min(want_r, math.max(lim_r - used_r, 0))
  end
  if lim_t > 0 and want_t > 0 then
    got_t = math.min(want_t, math.max(lim_t - used_t, 0))
  end
  -- Requests without tokens (or the reverse) admit nothing: take neither.
  if (lim_r > 0 and want_r > 0 and got_r == 0) or (lim_t > 0 and want_t > 0 and got_t == 0) then
    got_r, got_t = 0, 0
  end
  if got_r > 0 then
    used_r = used_r + got_r
    redis.call('HSET', h, id .. ':r', used_r)
  end
  if got_t > 0 then
    used_t = used_t + got_t
    redis.call('HSET', h, id .. ':t', used_t)
  end
  if not touched[h] then
    touched[h] = true
    redis.call('PEXPIRE', h, ttl)
  end
  out[#out + 1] = got_r
  out[#out + 1] = got_t
  out[#out + 1] = used_r
  out[#out + 1] = used_t
end
return out
