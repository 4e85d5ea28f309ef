-- Retention: find old delivered work and old events without it cheaply.
CREATE INDEX deliveries_succeeded_at ON deliveries(updated_at) WHERE status = 'succeeded';
CREATE INDEX events_received ON events(received_at);
