-- (5a) point lookup by primary key: one random loaded event by event_id.
-- bench_event_id(i, step_ms) recomputes the event_id that bench/gen/gen_events.c
-- gave event i; :rows is the number of loaded events, :step their ts step (ms).
\set i random(0, :rows - 1)
SELECT * FROM @TABLE@ WHERE event_id = bench_event_id(:i, :step);
