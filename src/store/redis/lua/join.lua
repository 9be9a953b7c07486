-- quotaroute store, key layout v1: create a survey's meta and counters if absent, and
-- return the meta as stored (HGETALL) and the recorded administrative changes, so the
-- caller compares layouts, versions and targets.
-- KEYS[1] meta hash, KEYS[2] counts hash, KEYS[3] changes list
-- ARGV[1] layout version, ARGV[2] counter count n, then n pairs (name, max)
if redis.call('EXISTS', KEYS[1]) == 0 then
  local n = tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'n', n)
  for i = 0, n - 1 do
    local name, max = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
    redis.call('HSET', KEYS[1], 'name:' .. i, name, 'max:' .. i, max)
    redis.call('HSET', KEYS[2], 'm' .. i, max, 'p' .. i, 0, 'c' .. i, 0)
  end
end
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[3], 0, -1)}
