-- fetch returns what keys are now, for a broker's in-memory view to follow
-- a change notification. ARGV[3..] are key ids. Returns {state, weight,
-- secret, state, weight, secret, ...} in order: state '' for a key not in
-- the pool, weight '' when unset (1), secret '' unless the key is active.
local out = {}
for i = 3, #ARGV do
  local f = redis.call('HMGET', kkey(ARGV[i]), 'st', 'w', 's')
  local st = f[1] or ''
  out[#out + 1] = st
  out[#out + 1] = f[2] or ''
  out[#out + 1] = (st == ACTIVE) and (f[3] or '') or ''
end
return out
