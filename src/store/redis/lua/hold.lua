-- quotaroute store, key layout v1: hold one slot in every counter of a set, or in none.
-- KEYS[1] counts hash, KEYS[2] respondents hash, KEYS[3] due zset
-- ARGV[1] respondent, ARGV[2] category, ARGV[3] ttl ms, ARGV[4..] distinct counter ids
-- A respondent's entries are one field of KEYS[2]: "cat deadline k c1 .. ck" groups,
-- a complete being "cat -1 0". Returns {0, deadline} accepted, {1, deadline} already
-- held, {2, 0} already completed, {3, counter} full.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local resp, cat = ARGV[1], tonumber(ARGV[2])
local e, out = {}, {}
local raw = redis.call('HGET', KEYS[2], resp)
if raw then
  for w in string.gmatch(raw, '%S+') do e[#e + 1] = tonumber(w) end
end
local i = 1
while i <= #e do
  local c, d, k = e[i], e[i + 1], e[i + 2]
  if c == cat then
    if d < 0 then return {2, 0} end
    if d > now then return {1, d} end
    -- past its deadline: released (expired) and taken anew below if possible
    for j = 1, k do redis.call('HINCRBY', KEYS[1], 'p' .. e[i + 2 + j], -1) end
    redis.call('ZREM', KEYS[3], cat .. ':' .. resp)
  else
    for j = 0, k + 2 do out[#out + 1] = e[i + j] end
  end
  i = i + 3 + k
end
local n = #ARGV - 3
local fields = {}
for j = 1, n do
  local id = ARGV[3 + j]
  fields[#fields + 1] = 'm' .. id
  fields[#fields + 1] = 'p' .. id
  fields[#fields + 1] = 'c' .. id
end
local v = {}
if n > 0 then v = redis.call('HMGET', KEYS[1], unpack(fields)) end
local full = nil
for j = 1, n do
  local m = tonumber(v[3 * j - 2])
  if not m then return redis.error_reply('QRNOSURVEY counters missing: survey purged?') end
  if tonumber(v[3 * j - 1]) + tonumber(v[3 * j]) >= m then
    full = tonumber(ARGV[3 + j])
    break
  end
end
if full == nil then
  local deadline = now + tonumber(ARGV[3])
  out[#out + 1] = cat
  out[#out + 1] = deadline
  out[#out + 1] = n
  for j = 1, n do
    redis.call('HINCRBY', KEYS[1], 'p' .. ARGV[3 + j], 1)
    out[#out + 1] = tonumber(ARGV[3 + j])
  end
  redis.call('ZADD', KEYS[3], deadline, cat .. ':' .. resp)
  redis.call('HSET', KEYS[2], resp, table.concat(out, ' '))
  return {0, deadline}
end
if #out == 0 then
  if raw then redis.call('HDEL', KEYS[2], resp) end
elseif #out ~= #e then
  redis.call('HSET', KEYS[2], resp, table.concat(out, ' '))
end
return {3, full}
