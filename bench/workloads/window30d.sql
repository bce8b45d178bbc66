-- (5c) one account's events (either side) in a 30-day window. Loaded events
-- span one year from 2024-01-01; :days30 is the last start day that leaves 30
-- days inside the loaded range.
\set a random(1, :accounts)
\set d random(0, :days30)
\set d2 :d + 30
SELECT * FROM @TABLE@
 WHERE (debit_account = :a OR credit_account = :a)
   AND ts >= '2024-01-01 00:00:00+00'::timestamptz + make_interval(days => :d)
   AND ts <  '2024-01-01 00:00:00+00'::timestamptz + make_interval(days => :d2)
 ORDER BY ts;
