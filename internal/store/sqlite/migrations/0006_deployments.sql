-- 0006: deployment history, what a risk model learns from: which service
-- went to which environment, from which git revision to which, when, and
-- how it turned out. The outcome may be set later (unknown, then success
-- once it is known); every other column is written once.
--
-- time and recorded_at are in the fixed-width form of 0001, so text order
-- is time order. run_id names the readiness run the deployment followed;
-- it is no foreign key, since that run may live in another database.

CREATE TABLE deployments (
    id          TEXT NOT NULL PRIMARY KEY,
    service     TEXT NOT NULL CHECK (service <> ''),
    environment TEXT NOT NULL CHECK (environment <> ''),
    from_rev    TEXT NOT NULL,
    to_rev      TEXT NOT NULL CHECK (to_rev <> ''),
    time        TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'rolled_back', 'incident', 'unknown')),
    run_id      TEXT NOT NULL,
    note        TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;

-- History of one service in one environment, in time order.
CREATE INDEX deployments_service_environment_time ON deployments (service, environment, time);
