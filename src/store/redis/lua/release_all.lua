-- quotaroute store, key layout v1: release every hold of a respondent; completes stay.
-- KEYS[1] counts hash, KEYS[2] respondents hash, KEYS[3] due zset
-- ARGV[1] respondent
-- Returns the released holds flat: {cat, k, c1 .. ck, cat, k, ...}.
local resp = ARGV[1]
local raw = redis.call('HGET', KEYS[2], resp)
if not raw then return {} end
local e, out, released = {}, {}, {}
for w in string.gmatch(raw, '%S+') do e[#e + 1] = tonumber(w) end
local i = 1
while i <= #e do
  local c, d, k = e[i], e[i + 1], e[i + 2]
  if d >= 0 then
    released[#released + 1] = c
    released[#released + 1] = k
    for j = 1, k do
      redis.call('HINCRBY', KEYS[1], 'p' .. e[i + 2 + j], -1)
      released[#released + 1] = e[i + 2 + j]
    end
    redis.call('ZREM', KEYS[3], c .. ':' .. resp)
  else
    for j = 0, k + 2 do out[#out + 1] = e[i + j] end
  end
  i = i + 3 + k
end
if #released == 0 then return {} end
if #out == 0 then
  redis.call('HDEL', KEYS[2], resp)
else
  redis.call('HSET', KEYS[2], resp, table.concat(out, ' '))
end
return released
