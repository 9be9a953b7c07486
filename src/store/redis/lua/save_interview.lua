-- quotaroute store, key layout v1: keep a respondent's saved interview for a while.
-- KEYS[1] the respondent's interview key; ARGV[1] the saved text, ARGV[2] ttl ms (> 0).
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
