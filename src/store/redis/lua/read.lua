-- quotaroute store, key layout v1: every counter's max, pending and completed, at once.
-- KEYS[1] counts hash. Returns its fields and values (m<i>, p<i>, c<i>).
return redis.call('HGETALL', KEYS[1])
