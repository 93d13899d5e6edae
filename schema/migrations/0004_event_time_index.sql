-- qlab-server schema, version 4: events by time, for pruning events older
-- than --event-retention without reading the whole log.
CREATE INDEX events_t ON events (t);
