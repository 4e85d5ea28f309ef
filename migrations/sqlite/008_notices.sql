-- What a final failure still owes, kept with the delivery in the transaction that fails it:
-- Herald's event about it (message.attempt.exhausted), and after a 410 the endpoint's disabling
-- (endpoint.disabled). Carried out after the commit and cleared; whatever a crash interrupts is
-- carried out by the next sweep, so nothing a receiver is promised is lost with the process.
ALTER TABLE deliveries ADD COLUMN notice TEXT;
CREATE INDEX deliveries_notice ON deliveries(id) WHERE notice IS NOT NULL;
