-- quotaroute store, key layout v1: turn a respondent's hold in a category into a complete.
-- KEYS[1] counts hash, KEYS[2] respondents hash, KEYS[3] due zset
-- ARGV[1] respondent, ARGV[2] category
-- Returns 0 completed, 1 already completed, 2 expired (released now), 3 not reserved.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local resp, cat = ARGV[1], tonumber(ARGV[2])
local raw = redis.call('HGET', KEYS[2], resp)
if not raw then return 3 end
local e, out = {}, {}
for w in string.gmatch(raw, '%S+') do e[#e + 1] = tonumber(w) end
local outcome = 3
local i = 1
while i <= #e do
  local c, d, k = e[i], e[i + 1], e[i + 2]
  if c == cat and d < 0 then
    return 1
  elseif c == cat and d <= now then
    for j = 1, k do redis.call('HINCRBY', KEYS[1], 'p' .. e[i + 2 + j], -1) end
    redis.call('ZREM', KEYS[3], cat .. ':' .. resp)
    outcome = 2
  elseif c == cat then
    for j = 1, k do
      redis.call('HINCRBY', KEYS[1], 'p' .. e[i + 2 + j], -1)
      redis.call('HINCRBY', KEYS[1], 'c' .. e[i + 2 + j], 1)
    end
    redis.call('ZREM', KEYS[3], cat .. ':' .. resp)
    out[#out + 1] = cat
    out[#out + 1] = -1
    out[#out + 1] = 0
    outcome = 0
  else
    for j = 0, k + 2 do out[#out + 1] = e[i + j] end
  end
  i = i + 3 + k
end
if outcome == 3 then return 3 end
if #out == 0 then
  redis.call('HDEL', KEYS[2], resp)
else
  redis.call('HSET', KEYS[2], resp, table.concat(out, ' '))
end
return outcome
