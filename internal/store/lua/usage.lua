-- usage adds leases counted in a broker's memory to the keys' records.
-- ARGV[3] names the flusher (one broker process) and ARGV[4] numbers this
-- batch among its flushes: a batch whose number is not above the last one
-- applied for that flusher was applied already (its reply lost to an
-- outage) and is skipped, so a retry never counts leases twice. An empty
-- flusher applies the batch unconditionally. The flusher's number expires
-- an hour after its last flush. ARGV[5..] are id, leases, last used ms
-- triples. A key no longer in the pool is skipped; last used only moves
-- forward (replicas flush in any order). No notification: usage is not a
-- change of state. Returns how many keys were updated, or -1 for a batch
-- applied before.
local flusher, seq = ARGV[3], tonumber(ARGV[4])
if flusher ~= '' then
  local sk = prefix .. 'useq:' .. flusher
  if seq <= tonumber(redis.call('GET', sk) or '0') then
    return -1
  end
  redis.call('SET', sk, seq, 'PX', 3600000)
end
local n = 0
for i = 5, #ARGV, 3 do
  local k = kkey(ARGV[i])
  if redis.call('EXISTS', k) == 1 then
    redis.call('HINCRBY', k, 'nl', ARGV[i + 1])
    local lu = tonumber(ARGV[i + 2])
    if lu > tonumber(redis.call('HGET', k, 'lu') or '0') then
      redis.call('HSET', k, 'lu', lu)
    end
    n = n + 1
  end
end
return n
