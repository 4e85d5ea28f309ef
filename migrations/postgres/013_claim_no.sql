-- Which claim of a delivery holds its lease: every claim adds one, and a settlement or lease
-- renewal names the claim it answers, so a late outcome of an earlier claim (the lease ran out
-- and the same worker claimed the delivery again before any attempt was recorded) is refused.
-- Deliveries an ingest creates leased keep 0 until claimed. A constant default: no table rewrite.
ALTER TABLE deliveries ADD COLUMN claim_no integer NOT NULL DEFAULT 0;
