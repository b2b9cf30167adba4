-- restore puts keys back into rotation on an admin's behalf and has the
-- worker check each at once. ARGV[3] is the actor for the audit trail,
-- ARGV[4] 'ids' or 'quarantined', ARGV[5] (for 'quarantined') the most
-- keys to restore in this call, ARGV[6..] (for 'ids') the key ids.
-- Returns, for 'ids', one flag per id: 1 restored, 2 already active (left
-- as it was), 0 not in the pool; for 'quarantined', the ids it restored
-- (fewer than ARGV[5] when no quarantined key is left).
local actor, mode = ARGV[3], ARGV[4]

local function restore(id)
  local st = redis.call('HGET', kkey(id), 'st')
  if not st then return 0 end
  if st == ACTIVE then return 2 end
  set_state(id, st, ACTIVE, 'restored_by_admin', 0, actor)
  verify_soon(id)
  return 1
end

local out, changed = {}, {}
if mode == 'quarantined' then
  for _, id in ipairs(redis.call('ZRANGE', ix(QUARANTINED), 0, tonumber(ARGV[5]) - 1)) do
    restore(id)
    out[#out + 1] = id
  end
  changed = out
else
  for i = 6, #ARGV do
    local r = restore(ARGV[i])
    out[#out + 1] = r
    if r == 1 then changed[#changed + 1] = ARGV[i] end
  end
end
publish('changed', changed)
return out
