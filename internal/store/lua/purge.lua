-- purge deletes keys that have been quarantined for longer than the pool's
-- retention, each recorded in the audit trail as removed by the broker
-- with reason 'quarantine_expired'. ARGV[3] is the retention (ms), ARGV[4]
-- the most keys to purge in one call. Returns the ids it deleted.
local before, limit = now - tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', QTIME, '-inf', before, 'LIMIT', 0, limit)) do
  if redis.call('HGET', kkey(id), 'st') == QUARANTINED then
    delete_key(id, QUARANTINED, 'quarantine_expired', 'broker')
    out[#out + 1] = id
  else
    redis.call('ZREM', QTIME, id)
  end
end
publish('removed', out)
return out
