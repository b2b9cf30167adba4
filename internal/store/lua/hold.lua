-- hold reads a pool's removal brake: {since ms (0: no hold), reason, keys
-- held, quarantines in the window}. ARGV[3] is the window (ms).
local h = redis.call('HMGET', HOLD, 'since', 'reason')
return {tonumber(h[1] or 0), h[2] or '', redis.call('SCARD', HELD),
  redis.call('ZCOUNT', REMOVALS, now - tonumber(ARGV[3]), '+inf')}
