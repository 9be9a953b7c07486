-- quotaroute PostgreSQL store, schema version 1. Applied once per database by the first node
-- that connects (under an advisory lock, so nodes starting together apply it once).
-- Counts are bigint so any u32 max fits; deadlines are milliseconds since the Unix epoch on
-- the database's clock (clock_timestamp(), not the routers' clocks).

CREATE TABLE quotaroute.surveys (
    survey   text PRIMARY KEY,
    version  int NOT NULL,
    created  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE quotaroute.counters (
    survey    text NOT NULL REFERENCES quotaroute.surveys ON DELETE CASCADE,
    id        int NOT NULL,
    name      text NOT NULL,
    max       bigint NOT NULL CHECK (max >= 0),
    pending   bigint NOT NULL DEFAULT 0 CHECK (pending >= 0),
    completed bigint NOT NULL DEFAULT 0 CHECK (completed >= 0),
    PRIMARY KEY (survey, id),
    -- The invariant itself, enforced by the database whatever a client sends.
    CHECK (pending + completed <= max)
);

CREATE TABLE quotaroute.holds (
    survey     text NOT NULL REFERENCES quotaroute.surveys ON DELETE CASCADE,
    respondent text NOT NULL,
    category   int NOT NULL,
    -- NULL once completed: a complete never expires.
    deadline   bigint,
    counters   int[] NOT NULL,
    state      text NOT NULL CHECK (state IN ('held', 'completed')),
    -- Idempotence: one hold or complete per (survey, respondent, category).
    PRIMARY KEY (survey, respondent, category)
);

-- The sweep's index: due holds of a survey by deadline.
CREATE INDEX holds_due ON quotaroute.holds (survey, deadline) WHERE state = 'held';

-- The database's clock in ms.
CREATE FUNCTION quotaroute.now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
$$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- Locks the survey's counters `ids` in id order (so two calls never wait on each other in a
-- cycle) and returns how many exist.
CREATE FUNCTION quotaroute.lock_counters(p_survey text, ids int[]) RETURNS int
LANGUAGE sql VOLATILE AS $$
    SELECT count(*)::int FROM (
        SELECT 1 FROM quotaroute.counters
        WHERE survey = p_survey AND id = ANY(ids) ORDER BY id FOR UPDATE
    ) locked
$$;

-- Gives back one pending slot in each of `ids` (already locked by the caller).
CREATE FUNCTION quotaroute.unpend(p_survey text, ids int[]) RETURNS void
LANGUAGE sql VOLATILE AS $$
    UPDATE quotaroute.counters SET pending = pending - 1
    WHERE survey = p_survey AND id = ANY(ids)
$$;

-- hold: one slot in every counter of p_counters (distinct ids), or in none.
-- code 0 accepted (val = deadline), 1 already held (val = deadline), 2 already completed,
-- 3 full (val = the first full counter in the order given).
CREATE FUNCTION quotaroute.hold(p_survey text, p_respondent text, p_category int,
                                p_counters int[], p_ttl_ms bigint,
                                OUT code int, OUT val bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now_ms bigint := quotaroute.now_ms();
    h quotaroute.holds%ROWTYPE;
    n int := cardinality(p_counters);
    had boolean;
    taken int;
BEGIN
    SELECT * INTO h FROM quotaroute.holds
    WHERE survey = p_survey AND respondent = p_respondent AND category = p_category
    FOR UPDATE;
    had := FOUND;
    IF had AND h.state = 'completed' THEN
        code := 2; val := 0; RETURN;
    ELSIF had AND h.deadline > now_ms THEN
        code := 1; val := h.deadline; RETURN;
    END IF;
    -- Every counter this call touches, the expired hold's and the new one's, locked in id
    -- order before any is changed.
    IF quotaroute.lock_counters(p_survey, p_counters || coalesce(h.counters, '{}'))
       < (SELECT count(DISTINCT x) FROM unnest(p_counters || coalesce(h.counters, '{}')) x) THEN
        RAISE EXCEPTION 'survey % has no such counters (purged?)', p_survey
            USING ERRCODE = 'QR001';
    END IF;
    IF had THEN
        -- Past its deadline: released (expired), taken anew below if possible.
        PERFORM quotaroute.unpend(p_survey, h.counters);
        DELETE FROM quotaroute.holds
        WHERE survey = p_survey AND respondent = p_respondent AND category = p_category;
    END IF;
    SELECT c.id INTO val FROM quotaroute.counters c
    WHERE c.survey = p_survey AND c.id = ANY(p_counters) AND c.pending + c.completed >= c.max
    ORDER BY array_position(p_counters, c.id) LIMIT 1;
    IF FOUND THEN
        code := 3; RETURN;
    END IF;
    -- The conditional UPDATE: under the row locks it takes every counter; the condition and
    -- the count are a second guard (and the CHECK constraint a third).
    UPDATE quotaroute.counters SET pending = pending + 1
    WHERE survey = p_survey AND id = ANY(p_counters) AND pending + completed < max;
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken <> n THEN
        RAISE EXCEPTION 'hold took % of % counters', taken, n USING ERRCODE = 'QR002';
    END IF;
    INSERT INTO quotaroute.holds (survey, respondent, category, deadline, counters, state)
    VALUES (p_survey, p_respondent, p_category, now_ms + p_ttl_ms, p_counters, 'held');
    code := 0; val := now_ms + p_ttl_ms;
END $$;

-- commit: 0 completed, 1 already completed, 2 expired (released now), 3 not reserved.
CREATE FUNCTION quotaroute.commit(p_survey text, p_respondent text, p_category int)
RETURNS int LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    h quotaroute.holds%ROWTYPE;
BEGIN
    SELECT * INTO h FROM quotaroute.holds
    WHERE survey = p_survey AND respondent = p_respondent AND category = p_category
    FOR UPDATE;
    IF NOT FOUND THEN RETURN 3; END IF;
    IF h.state = 'completed' THEN RETURN 1; END IF;
    PERFORM quotaroute.lock_counters(p_survey, h.counters);
    IF h.deadline <= quotaroute.now_ms() THEN
        PERFORM quotaroute.unpend(p_survey, h.counters);
        DELETE FROM quotaroute.holds
        WHERE survey = p_survey AND respondent = p_respondent AND category = p_category;
        RETURN 2;
    END IF;
    UPDATE quotaroute.counters SET pending = pending - 1, completed = completed + 1
    WHERE survey = p_survey AND id = ANY(h.counters);
    UPDATE quotaroute.holds SET state = 'completed', deadline = NULL
    WHERE survey = p_survey AND respondent = p_respondent AND category = p_category;
    RETURN 0;
END $$;

-- release: true when the hold was live (an expired one is released all the same).
CREATE FUNCTION quotaroute.release(p_survey text, p_respondent text, p_category int)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    h quotaroute.holds%ROWTYPE;
BEGIN
    SELECT * INTO h FROM quotaroute.holds
    WHERE survey = p_survey AND respondent = p_respondent AND category = p_category
      AND state = 'held'
    FOR UPDATE;
    IF NOT FOUND THEN RETURN false; END IF;
    PERFORM quotaroute.lock_counters(p_survey, h.counters);
    PERFORM quotaroute.unpend(p_survey, h.counters);
    DELETE FROM quotaroute.holds
    WHERE survey = p_survey AND respondent = p_respondent AND category = p_category;
    RETURN h.deadline > quotaroute.now_ms();
END $$;

-- release_all: every hold of the respondent, one row per released hold.
CREATE FUNCTION quotaroute.release_all(p_survey text, p_respondent text)
RETURNS TABLE (category int, counters int[]) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    h record;
BEGIN
    FOR h IN SELECT * FROM quotaroute.holds x
             WHERE x.survey = p_survey AND x.respondent = p_respondent AND x.state = 'held'
             ORDER BY x.category FOR UPDATE LOOP
        PERFORM quotaroute.lock_counters(p_survey, h.counters);
        PERFORM quotaroute.unpend(p_survey, h.counters);
        DELETE FROM quotaroute.holds x
        WHERE x.survey = p_survey AND x.respondent = p_respondent AND x.category = h.category;
        category := h.category; counters := h.counters;
        RETURN NEXT;
    END LOOP;
END $$;

-- expire: up to p_batch due holds; holds another call has locked are skipped (that call
-- settles them, and a second sweep never releases a hold twice). Returns (released, seen).
CREATE FUNCTION quotaroute.expire(p_survey text, p_batch int,
                                  OUT released bigint, OUT seen bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    resps text[];
    cats int[];
    ids int[];
BEGIN
    WITH due AS (
        SELECT h.respondent, h.category, h.counters FROM quotaroute.holds h
        WHERE h.survey = p_survey AND h.state = 'held' AND h.deadline <= quotaroute.now_ms()
        ORDER BY h.deadline LIMIT p_batch
        FOR UPDATE SKIP LOCKED
    )
    SELECT (SELECT array_agg(d.respondent) FROM due d),
           (SELECT array_agg(d.category) FROM due d),
           (SELECT array_agg(x) FROM due d, unnest(d.counters) x),
           (SELECT count(*) FROM due)
    INTO resps, cats, ids, seen;
    IF seen = 0 THEN
        released := 0; RETURN;
    END IF;
    PERFORM quotaroute.lock_counters(p_survey, coalesce(ids, '{}'));
    UPDATE quotaroute.counters c SET pending = c.pending - g.n
    FROM (SELECT x AS id, count(*) AS n FROM unnest(ids) x GROUP BY x) g
    WHERE c.survey = p_survey AND c.id = g.id;
    DELETE FROM quotaroute.holds h
    USING unnest(resps, cats) AS d(respondent, category)
    WHERE h.survey = p_survey AND h.respondent = d.respondent AND h.category = d.category;
    released := seen;
END $$;
