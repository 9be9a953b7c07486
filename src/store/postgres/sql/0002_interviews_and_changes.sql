-- quotaroute PostgreSQL store, schema version 2: respondents' saved interviews, so the next
-- request may reach any node. One row per (survey, respondent), replaced on each save; a row
-- past its deadline reads as absent and is deleted by the sweep.

CREATE TABLE quotaroute.interviews (
    survey     text NOT NULL REFERENCES quotaroute.surveys ON DELETE CASCADE,
    respondent text NOT NULL,
    state      text NOT NULL,
    deadline   bigint NOT NULL,
    PRIMARY KEY (survey, respondent)
);

CREATE INDEX interviews_due ON quotaroute.interviews (survey, deadline);
