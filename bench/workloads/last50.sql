-- (5b) one account's last 50 events. An account's events are those it is on
-- either side of (double entry): debit_account or credit_account. heap has btree
-- indexes on (debit_account, ts) and (credit_account, ts); the planner picks.
\set a random(1, :accounts)
SELECT * FROM @TABLE@ WHERE debit_account = :a OR credit_account = :a
 ORDER BY ts DESC LIMIT 50;
