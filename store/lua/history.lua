-- history returns one key's entries of the pool's audit trail, newest
-- first: ARGV[4] key id, ARGV[5] how many at most, ARGV[6] the stream id to
-- continue before ('+' for the newest). The trail is shared by the pool's
-- keys, so it is scanned in chunks until enough entries of this key are
-- found or the trail ends. Returns {{stream id, time, from, to, reason,
-- actor, until}...}.
local id, want, cursor = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local CHUNK = 500
local skip = cursor ~= '+'
local out = {}
while #out < want do
  local chunk = redis.call('XREVRANGE', AUDIT, cursor, '-', 'COUNT', CHUNK)
  for _, e in ipairs(chunk) do
    if not (skip and e[1] == cursor) then
      local f = {}
      for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
      if f.k == id then
        out[#out + 1] = {e[1], f.t or '0', f.f or '', f.s or '', f.r or '', f.a or '', f.u or '0'}
        if #out == want then break end
      end
    end
  end
  if #chunk < CHUNK then break end
  cursor, skip = chunk[#chunk][1], true
end
return out
