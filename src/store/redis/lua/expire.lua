-- quotaroute store, key layout v1: release up to ARGV[1] holds whose deadline has passed.
-- KEYS[1] counts hash, KEYS[2] respondents hash, KEYS[3] due zset
-- Returns {released, due entries looked at}; the caller repeats while the batch was full.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local released = 0
for _, member in ipairs(due) do
  local colon = string.find(member, ':', 1, true)
  local cat, resp = tonumber(string.sub(member, 1, colon - 1)), string.sub(member, colon + 1)
  local raw = redis.call('HGET', KEYS[2], resp)
  if raw then
    local e, out = {}, {}
    for w in string.gmatch(raw, '%S+') do e[#e + 1] = tonumber(w) end
    local changed = false
    local i = 1
    while i <= #e do
      local c, d, k = e[i], e[i + 1], e[i + 2]
      if c == cat and d >= 0 and d <= now then
        for j = 1, k do redis.call('HINCRBY', KEYS[1], 'p' .. e[i + 2 + j], -1) end
        released = released + 1
        changed = true
      else
        for j = 0, k + 2 do out[#out + 1] = e[i + j] end
      end
      i = i + 3 + k
    end
    if changed then
      if #out == 0 then
        redis.call('HDEL', KEYS[2], resp)
      else
        redis.call('HSET', KEYS[2], resp, table.concat(out, ' '))
      end
    end
  end
  redis.call('ZREM', KEYS[3], member)
end
return {released, #due}
