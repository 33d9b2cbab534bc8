-- boxoffice schema, version 3 (PRAGMA user_version = 3): the relay finds the oldest pending
-- event of each aggregate key without scanning every pending event.
--
-- Applied by src/store/sqlite/migrate.rs as migration step 3. The relay's query walks pending
-- events in id order and keeps those with no earlier pending event of their key; this index,
-- which holds pending events only, answers that check in one lookup. Before it, the relay
-- grouped every pending event by key on each round, so a backlog made each round slower.
CREATE INDEX outbox_pending_by_key ON outbox (aggregate_key, id) WHERE state = 'pending';
