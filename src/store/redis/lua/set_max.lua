-- quotaroute store, key layout v1: an administrative change to one counter's max, applied
-- and recorded in one step.
-- KEYS[1] counts hash, KEYS[2] meta hash, KEYS[3] changes list
-- ARGV[1] counter id, ARGV[2] new max, ARGV[3] kind (target, close, reopen)
-- The meta keeps the maxes now (what a joining node is checked against); each change is a
-- list entry "counter from to kind", its position + 1 its sequence number.
-- Returns {seq, from}.
local from = redis.call('HGET', KEYS[1], 'm' .. ARGV[1])
if not from then return redis.error_reply('QRNOSURVEY counters missing: survey purged?') end
redis.call('HSET', KEYS[1], 'm' .. ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'max:' .. ARGV[1], ARGV[2])
local seq = redis.call('RPUSH', KEYS[3], ARGV[1] .. ' ' .. from .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
return {seq, tonumber(from)}
