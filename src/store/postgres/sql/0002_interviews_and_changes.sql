-- quotaroute PostgreSQL store, schema version 2: respondents' saved interviews, so the next
-- request may reach any node, and administrative changes to targets.

-- One saved interview per (survey, respondent), replaced on each save; a row past its
-- deadline reads as absent and is deleted by the sweep.
CREATE TABLE quotaroute.interviews (
    survey     text NOT NULL REFERENCES quotaroute.surveys ON DELETE CASCADE,
    respondent text NOT NULL,
    state      text NOT NULL,
    deadline   bigint NOT NULL,
    PRIMARY KEY (survey, respondent)
);

CREATE INDEX interviews_due ON quotaroute.interviews (survey, deadline);

-- A max may now be lowered below what a counter holds (held slots are never cancelled), so
-- pending + completed <= max is no longer a row invariant: hold() refuses any new slot
-- while pending + completed >= max, which is what keeps quotas from overfilling.
ALTER TABLE quotaroute.counters DROP CONSTRAINT counters_check;

-- Every administrative change to a max, in the order applied (seq increases).
CREATE TABLE quotaroute.changes (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey   text NOT NULL REFERENCES quotaroute.surveys ON DELETE CASCADE,
    counter  int NOT NULL,
    old_max  bigint NOT NULL,
    new_max  bigint NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('target', 'close', 'reopen')),
    at_ms    bigint NOT NULL DEFAULT quotaroute.now_ms()
);

CREATE INDEX changes_survey ON quotaroute.changes (survey, seq);

-- Sets one counter's max and records the change, under the counter's row lock (so a
-- hold racing it sees the old max or the new one). No row when the counter is missing.
CREATE FUNCTION quotaroute.set_max(p_survey text, p_counter int, p_max bigint, p_kind text)
RETURNS TABLE (seq bigint, old_max bigint) LANGUAGE plpgsql AS $$
DECLARE
    v_old bigint;
    v_seq bigint;
BEGIN
    SELECT c.max INTO v_old FROM quotaroute.counters c
        WHERE c.survey = p_survey AND c.id = p_counter FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE quotaroute.counters SET max = p_max WHERE survey = p_survey AND id = p_counter;
    INSERT INTO quotaroute.changes (survey, counter, old_max, new_max, kind)
        VALUES (p_survey, p_counter, v_old, p_max, p_kind) RETURNING changes.seq INTO v_seq;
    RETURN QUERY SELECT v_seq, v_old;
END $$;
