# gen_events.awk: CSV rows for the canonical events table, for COPY
#   awk -v from=1 -v to=1000000 [-v tag=load] -f gen_events.awk
# Columns: event_id, event_type, aggregate_id, aggregate_version, ts,
# debit_account, credit_account, amount, currency, payload, metadata.
# event_id and ts are given (no volatile column default), so COPY uses its
# bulk path. Event i: aggregate (i % 1000), version (i / 1000 + 1), so
# (aggregate_id, aggregate_version) is unique; amount i/100.
BEGIN {
  if (tag == "") tag = "load"
  for (i = from; i <= to; i++) {
    a = i % 1000
    s = i % 60; m = int(i / 60) % 60; h = int(i / 3600) % 24
    d = int(i / 86400) % 28 + 1; mo = int(i / 2419200) % 12 + 1
    printf "%08x-%04x-7000-8000-%012x,deposit,00000000-0000-4000-8000-%012x,%d,", \
      int(i / 65536), i % 65536, i, a, int(i / 1000) + 1
    printf "2024-%02d-%02d %02d:%02d:%02d+00,%d,%d,%d.%02d,EUR,", mo, d, h, m, s, \
      1000 + a, 2000 + (i % 7), int(i / 100), i % 100
    printf "\"{\"\"i\"\": %d, \"\"note\"\": \"\"bulk load row %d of the resource test\"\"}\",", i, i
    printf "\"{\"\"source\"\": \"\"%s\"\"}\"\n", tag
  }
}
