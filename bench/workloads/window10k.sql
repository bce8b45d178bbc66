-- (5d) a 10,000-event time window (btree on ts): loaded event i has
-- ts = 2024-01-01 + i * :step ms (+ jitter below one step), so the window holds
-- exactly 10,000 events; aggregated so the rows are read but not shipped.
\set s random(0, :rows - 10000)
\set lo :s * :step
\set hi (:s + 10000) * :step
SELECT count(*), sum(amount) FROM @TABLE@
 WHERE ts >= '2024-01-01 00:00:00+00'::timestamptz + (:lo)::bigint * interval '1 millisecond'
   AND ts <  '2024-01-01 00:00:00+00'::timestamptz + (:hi)::bigint * interval '1 millisecond';
