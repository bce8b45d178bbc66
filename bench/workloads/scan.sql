-- (5e) full scan: count(*) and sum(amount) over every event (sum forces the
-- rows to be read; no index-only shortcut).
SELECT count(*), sum(amount) FROM @TABLE@;
