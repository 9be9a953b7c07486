-- quotaroute store, key layout v1: a respondent's saved interview, or nil.
-- KEYS[1] the respondent's interview key.
return redis.call('GET', KEYS[1])
