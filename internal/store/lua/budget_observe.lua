-- budget_observe: apply what providers' rate-limit headers said. ARGV[3] is
-- how long a window's count lives (ms); then groups of six: key id, window
-- number, requests used floor, tokens used floor (-1: none), learned
-- request limit, learned token limit (0: none). A floor raises the
-- window's count to at least what the provider has seen spent (calls made
-- outside the broker, or a window the broker misjudged); it never lowers
-- it. Learned limits are kept per key in kb:{pool}:bl as "<requests>
-- <tokens>" under "<id>:l".
local ttl = tonumber(ARGV[3])
local LIMITS = prefix .. 'bl'
for i = 4, #ARGV, 6 do
  local id, win = ARGV[i], ARGV[i + 1]
  local floor_r, floor_t = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local learn_r, learn_t = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
  local h = prefix .. 'bw:' .. win
  for field, floor in pairs({[id .. ':r'] = floor_r, [id .. ':t'] = floor_t}) do
    if floor >= 0 and floor > count(redis.call('HGET', h, field)) then
      redis.call('HSET', h, field, floor)
      redis.call('PEXPIRE', h, ttl)
    end
  end
  if learn_r > 0 or learn_t > 0 then
    local old = redis.call('HGET', LIMITS, id .. ':l')
    if old and (learn_r == 0 or learn_t == 0) then
      local r, t = string.match(old, '^(%d+) (%d+)$')
      if learn_r == 0 then learn_r = tonumber(r or '0') end
      if learn_t == 0 then learn_t = tonumber(t or '0') end
    end
    local v = string.format('%d %d', learn_r, learn_t)
    if v ~= old then redis.call('HSET', LIMITS, id .. ':l', v) end
  end
end
return 0
