-- What a final failure still owes (see migrations/sqlite/008): Herald's event about it, and
-- after a 410 the endpoint's disabling, kept with the delivery in the transaction that fails it.
ALTER TABLE deliveries ADD COLUMN notice TEXT;
CREATE INDEX deliveries_notice ON deliveries(id) WHERE notice IS NOT NULL;
