-- quotaroute store, key layout v1: every administrative change of the survey, in order.
-- KEYS[1] changes list. Returns its entries "counter from to kind".
return redis.call('LRANGE', KEYS[1], 0, -1)
