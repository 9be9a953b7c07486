-- quotaroute store, key layout v1: delete every key of a survey (meta, counts, respondents,
-- due, changes; saved interviews expire by themselves). Returns how many keys existed.
return redis.call('DEL', unpack(KEYS))
