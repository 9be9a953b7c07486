-- quotaroute store, key layout v1: delete every key of a survey (meta, counts, respondents,
-- due). Returns how many keys existed.
return redis.call('DEL', unpack(KEYS))
