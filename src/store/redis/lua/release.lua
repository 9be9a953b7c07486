-- quotaroute store, key layout v1: release a respondent's hold in a category.
-- KEYS[1] counts hash, KEYS[2] respondents hash, KEYS[3] due zset
-- ARGV[1] respondent, ARGV[2] category
-- Returns 1 when the hold was live, 0 otherwise (an expired hold is released all the same).
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local resp, cat = ARGV[1], tonumber(ARGV[2])
local raw = redis.call('HGET', KEYS[2], resp)
if not raw then return 0 end
local e, out = {}, {}
for w in string.gmatch(raw, '%S+') do e[#e + 1] = tonumber(w) end
local found, live = false, 0
local i = 1
while i <= #e do
  local c, d, k = e[i], e[i + 1], e[i + 2]
  if c == cat and d >= 0 then
    for j = 1, k do redis.call('HINCRBY', KEYS[1], 'p' .. e[i + 2 + j], -1) end
    redis.call('ZREM', KEYS[3], cat .. ':' .. resp)
    found = true
    if d > now then live = 1 end
  else
    for j = 0, k + 2 do out[#out + 1] = e[i + j] end
  end
  i = i + 3 + k
end
if not found then return 0 end
if #out == 0 then
  redis.call('HDEL', KEYS[2], resp)
else
  redis.call('HSET', KEYS[2], resp, table.concat(out, ' '))
end
return live
