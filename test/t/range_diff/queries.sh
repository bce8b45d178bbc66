# shellcheck shell=bash disable=SC2034
# queries.sh: schema, data and random query generator of
# test/t/004_range_differential.sh (sourced by it; see there).
#
#   schema_sql SEED EVENTS ACCOUNTS DIR   prints the SQL that builds la/ha, lb/hb
#   gen_queries N DIR EVENTS ACCOUNTS      writes DIR/ledger.sql, heap.sql,
#                                          plans.sql, part.sql, part_plans.sql,
#                                          queries.txt and fills Q_FORM, Q_TEXT,
#                                          Q_ARGS, Q_MUST, Q_NOSORT, Q_PAIR
# The caller seeds bash's RANDOM (RANDOM=SEED) before gen_queries; the data
# comes from Postgres' random() after setseed(), so both are reproducible.
# Queries are written with {T} for the table; the ledger scripts get la/lb,
# the heap scripts ha/hb, the partitioned scripts pa (pair A's queries only).

export TZ=UTC
BASE_EPOCH=1704067200            # 2024-01-01 00:00:00+00
STEP_MIN=5                       # event times are multiples of 5 minutes
SEQ_LO=-2000                     # lb.seq values: [SEQ_LO, SEQ_HI), some NULL
SEQ_HI=2000

# Text accounts of lb/hb (at most 24 characters: dst is varchar(24)).
NAMES=("" " " "a" "a " " a" "A" "aa" "ab" $'tab\there' "O'Brien" 'back\slash'
       "ümlaut" "Ünïcödé" "🙂 smile" "%_" $'line\nbreak' "xxxxxxxxxxxxxxxxxxxxxxxx"
       "zzz" "NULL" "{a,b}" '"quoted"' "a,b" "a;b" "-1")
for (( _n = 0; _n < 36; _n++ )); do NAMES+=("acct-$(printf '%02d' "$_n")"); done
# Account values that are in no row.
ABSENT_NAMES=("b" "a  " "xxxxxxxxxxxxxxxxxxxxxxxxx" "acct-99" "ümlaut ")

# sql_lit S: sets L to S as an SQL string literal.
sql_lit() {
  L="'${1//\'/\'\'}'"
}

# rnd N: sets R to a random integer in [0, N).
rnd() {
  R=$(( ((RANDOM << 15) | RANDOM) % $1 ))
}

# ts_lit MINUTES [SECONDS]: sets L to the timestamptz literal of the base
# time plus MINUTES minutes and SECONDS seconds.
ts_lit() {
  printf -v L "'%(%Y-%m-%d %H:%M:%S)T+00'" $(( BASE_EPOCH + $1 * 60 + ${2:-0} ))
}

schema_sql() {
  local seed=$1 events=$2 accounts=$3 dir=$4
  local slots=$(( events * 2 / 5 )) nb=$(( events / 4 )) names="" i
  for (( i = 0; i < ${#NAMES[@]}; i++ )); do
    sql_lit "${NAMES[$i]}"
    names+="${names:+, }($i, $L)"
  done
  cat <<SQL
SET max_parallel_workers_per_gather = 0;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS ledger_am;
SELECT setseed($(( seed % 1000003 )) / 1000003.0);

-- ---- pair A: the canonical events table and its heap twin -----------------
SELECT ledger_am.create_events_table('la');
-- declared again below, after the first rows (backfill)
DO \$\$ BEGIN
  EXECUTE (SELECT format('DROP INDEX %s', indexrelid::regclass) FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
           WHERE i.indrelid = 'la'::regclass AND a.amname = 'ledger_range');
END \$\$;
CREATE TABLE ha (LIKE la INCLUDING ALL) USING heap;
CREATE INDEX ha_debit ON ha (debit_account, ts);
CREATE INDEX ha_credit ON ha (credit_account, ts);
CREATE INDEX ha_ts ON ha (ts);

WITH r AS MATERIALIZED (
  SELECT n, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
         random() AS r6, random() AS r7, random() AS r8, random() AS r9
  FROM generate_series(1, $events) n
), a AS MATERIALIZED (
  SELECT r.*, CASE WHEN r1 < 0.05 THEN NULL
                   WHEN r2 < 0.10 THEN floor(r3 * 5)::bigint
                   ELSE floor(r3 * $accounts)::bigint END AS debit
  FROM r
)
INSERT INTO ha (event_id, event_type, aggregate_id, aggregate_version, ts, debit_account,
                credit_account, tx_id, amount, currency, payload, metadata)
SELECT md5('e' || n)::uuid,
       (ARRAY['deposit', 'withdrawal', 'transfer', 'fee'])[1 + floor(r8 * 4)::int],
       md5('a' || (n % 1000))::uuid, n / 1000 + 1,
       timestamptz '2024-01-01 00:00:00+00' + floor(r7 * $slots) * interval '$STEP_MIN minutes',
       debit,
       CASE WHEN r4 < 0.05 THEN NULL
            WHEN r4 < 0.08 THEN debit
            WHEN r5 < 0.10 THEN floor(r6 * 5)::bigint
            ELSE floor(r6 * $accounts)::bigint END,
       md5('t' || n)::uuid, round((r9 * 10000)::numeric, 2), 'USD',
       jsonb_build_object('n', n), '{}'
FROM a;

-- la: 40% before the declaration, a rolled-back batch, the declaration
-- (backfill), 30% by INSERT in three transactions, another rolled-back batch
-- (keys written, rows invisible), 30% by COPY.
CREATE TEMP TABLE a_order AS
  SELECT event_id, row_number() OVER (ORDER BY md5(event_id::text)) AS k FROM ha;
INSERT INTO la SELECT h.* FROM ha h JOIN a_order o USING (event_id) WHERE o.k <= $events * 4 / 10;
BEGIN;
INSERT INTO la (event_id, event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
SELECT md5('junk1-' || g)::uuid, 'junk', md5('junk1-' || g)::uuid, 1,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 minutes', g % $accounts, (g * 3) % $accounts, -1
FROM generate_series(1, 500) g;
ROLLBACK;
CREATE INDEX la_range ON la USING ledger_range (debit_account, credit_account, ts);
INSERT INTO la SELECT h.* FROM ha h JOIN a_order o USING (event_id) WHERE o.k > $events * 4 / 10 AND o.k <= $events * 5 / 10;
INSERT INTO la SELECT h.* FROM ha h JOIN a_order o USING (event_id) WHERE o.k > $events * 5 / 10 AND o.k <= $events * 6 / 10;
INSERT INTO la SELECT h.* FROM ha h JOIN a_order o USING (event_id) WHERE o.k > $events * 6 / 10 AND o.k <= $events * 7 / 10;
BEGIN;
INSERT INTO la (event_id, event_type, aggregate_id, aggregate_version, ts, debit_account, credit_account, amount)
SELECT md5('junk2-' || g)::uuid, 'junk', md5('junk2-' || g)::uuid, 1,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '11 minutes', g % 7, (g * 5) % $accounts, -2
FROM generate_series(1, 500) g;
ROLLBACK;
COPY (SELECT h.* FROM ha h JOIN a_order o USING (event_id) WHERE o.k > $events * 7 / 10) TO '$dir/la.copy';
COPY la FROM '$dir/la.copy';

-- pa: the same rows as ha in a table partitioned by time into three
-- ledger_am partitions, declared once on the parent (pair A's queries run on
-- it too: Append / Merge Append over the partitions' range scans).
CREATE TABLE pa (LIKE ha INCLUDING DEFAULTS) PARTITION BY RANGE (ts);
CREATE TABLE pa_1 PARTITION OF pa FOR VALUES FROM (MINVALUE) TO ('2024-01-10 00:00:00+00') USING ledger_am;
CREATE TABLE pa_2 PARTITION OF pa FOR VALUES FROM ('2024-01-10 00:00:00+00') TO ('2024-01-20 00:00:00+00') USING ledger_am;
CREATE TABLE pa_3 PARTITION OF pa FOR VALUES FROM ('2024-01-20 00:00:00+00') TO (MAXVALUE) USING ledger_am;
CREATE INDEX pa_range ON pa USING ledger_range (debit_account, credit_account, ts);
INSERT INTO pa SELECT * FROM ha;

-- ---- pair B: text accounts, integer time ----------------------------------
CREATE TABLE names (n int PRIMARY KEY, name text NOT NULL);
INSERT INTO names VALUES $names;
CREATE TABLE hb (id bigint PRIMARY KEY, src text, dst varchar(24), tags text[], seq int, v int);
CREATE TABLE lb (id bigint NOT NULL, src text, dst varchar(24), tags text[], seq int, v int) USING ledger_am;
CREATE INDEX hb_src ON hb (src, seq);
CREATE INDEX hb_dst ON hb (dst, seq);
CREATE INDEX hb_seq ON hb (seq);
CREATE INDEX hb_tags ON hb USING gin (tags);
WITH na AS MATERIALIZED (
  SELECT array_agg(name ORDER BY n) AS a, count(*)::int AS c FROM names
), r AS MATERIALIZED (
  SELECT n, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
         random() AS r6, random() AS r7, random() AS r8, random() AS r9, random() AS r10
  FROM generate_series(1, $nb) n
), b AS MATERIALIZED (
  SELECT r.*, CASE WHEN r1 < 0.05 THEN NULL ELSE na.a[1 + floor(r2 * na.c)::int] END AS src,
         na.a[1 + floor(r4 * na.c)::int] AS t1, na.a[1 + floor(r6 * na.c)::int] AS t2
  FROM r, na
)
INSERT INTO hb
SELECT n, src,
       CASE WHEN r3 < 0.05 THEN NULL WHEN r3 < 0.08 THEN src ELSE t1 END,
       CASE WHEN r5 < 0.10 THEN NULL
            WHEN r5 < 0.15 THEN '{}'::text[]
            WHEN r5 < 0.20 THEN ARRAY[t2, t2]
            WHEN r5 < 0.25 THEN ARRAY[t2, NULL]
            WHEN r5 < 0.60 THEN ARRAY[t2]
            ELSE ARRAY[t2, t1, src] END,
       CASE WHEN r8 < 0.08 THEN NULL ELSE $SEQ_LO + floor(r9 * ($SEQ_HI - $SEQ_LO))::int END,
       floor(r10 * 1000)::int
FROM b;
INSERT INTO lb SELECT * FROM hb WHERE id % 4 IN (0, 1);
CREATE INDEX lb_range ON lb USING ledger_range (src, dst, tags, seq);
INSERT INTO lb SELECT * FROM hb WHERE id % 4 = 2;
BEGIN;
INSERT INTO lb SELECT id + 1000000, dst, src, tags, seq, -1 FROM hb WHERE id % 4 = 2;
ROLLBACK;
COPY (SELECT * FROM hb WHERE id % 4 = 3) TO '$dir/lb.copy';
COPY lb FROM '$dir/lb.copy';

ANALYZE la; ANALYZE ha; ANALYZE pa; ANALYZE lb; ANALYZE hb; ANALYZE names;
SQL
}

# ---------------------------------------------------------------------------
# Query pieces. Each sets globals; the form generators set
#   QT (query text with {T}), QK (ordering key: '', x.ts, x.seq or x::text),
#   QMUST (must use LedgerRangeScan), QNOSORT (ordered by time only: no Sort),
#   QTYPES/QARGS (generic plans: parameter types and EXECUTE arguments).
# ---------------------------------------------------------------------------

# acct_lit: sets L to an account of pair A (mostly present, some hot, some
# absent, some NULL; plain, int or quoted literal) and LNULL=1 for NULL.
acct_lit() {
  LNULL=0
  rnd 100
  if (( R < 3 )); then L="NULL::bigint"; LNULL=1; return; fi
  if (( R < 6 )); then
    rnd 3; L=$(( R == 0 ? -1 : (R == 1 ? ACCOUNTS + 7 : 9223372036854775807) )); return
  fi
  if (( R < 20 )); then rnd 5; else rnd "$ACCOUNTS"; fi
  local v=$R
  rnd 10
  case $R in
    0) L="$v::int" ;;
    1) L="'$v'" ;;
    *) L=$v ;;
  esac
}

# name_lit: sets L to a text account of pair B, LNULL=1 for NULL.
name_lit() {
  LNULL=0
  rnd 100
  if (( R < 3 )); then L="NULL::text"; LNULL=1; return; fi
  if (( R < 8 )); then rnd ${#ABSENT_NAMES[@]}; sql_lit "${ABSENT_NAMES[$R]}"; return; fi
  rnd ${#NAMES[@]}
  sql_lit "${NAMES[$R]}"
}

# time_bounds COL KIND: sets B to " AND <bounds on COL>" (or "" for none),
# BFRAC to the fraction of the time domain they keep (per mille) and BNULL=1
# when a bound is NULL. KIND ts: timestamptz column over the event times;
# seq: integer column over [SEQ_LO, SEQ_HI).
time_bounds() {
  local col=$1 kind=$2 d lo hi w lo_l hi_l v_l k unit=1 base=0
  BNULL=0
  if [[ $kind == ts ]]; then d=$(( SLOTS * STEP_MIN )); unit=$STEP_MIN
  else d=$(( SEQ_HI - SEQ_LO )); base=$SEQ_LO; fi
  rnd 100
  if (( R < 40 )); then w=$unit
  elif (( R < 65 )); then w=$(( d / 400 ))
  elif (( R < 85 )); then w=$(( d / 30 ))
  elif (( R < 95 )); then w=$(( d / 4 ))
  else w=$(( d + d / 10 )); fi
  (( w < 1 )) && w=1
  rnd $(( d + d / 10 )); lo=$(( R - d / 20 ))
  hi=$(( lo + w ))
  if [[ $kind == ts ]]; then
    rnd 4; local s=$(( R == 0 ? 150 : 0 ))
    ts_lit "$lo" "$s"; lo_l=$L
    ts_lit "$hi" "$s"; hi_l=$L
    rnd "$SLOTS"; ts_lit $(( R * STEP_MIN )); v_l=$L
  else
    lo=$(( lo + SEQ_LO )); hi=$(( hi + SEQ_LO ))
    lo_l=$lo; hi_l=$hi
    (( lo < 0 )) && lo_l="($lo)"
    (( hi < 0 )) && hi_l="($hi)"
    rnd 8
    case $R in
      0) lo_l="$lo_l::bigint" ;;
      1) hi_l="$hi_l::bigint" ;;
      2) (( lo > -32768 && lo < 32767 )) && lo_l="$lo_l::smallint" ;;
    esac
    rnd $(( SEQ_HI - SEQ_LO )); v_l=$(( R + SEQ_LO )); (( v_l < 0 )) && v_l="($v_l)"
  fi
  # fractions of the domain kept by lower / upper bounds
  local keep_lo=$(( (d - (lo - base)) * 1000 / d ))
  local keep_hi=$(( (hi - base) * 1000 / d ))
  rnd 30; k=$R
  case $k in
    0|1|2) B=" AND $col >= $lo_l"; BFRAC=$keep_lo ;;
    3|4) B=" AND $col > $lo_l"; BFRAC=$keep_lo ;;
    5|6|7) B=" AND $col < $hi_l"; BFRAC=$keep_hi ;;
    8|9) B=" AND $col <= $hi_l"; BFRAC=$keep_hi ;;
    10|11|12|13|14|15) B=" AND $col >= $lo_l AND $col < $hi_l"; BFRAC=$(( w * 1000 / d )) ;;
    16|17|18) B=" AND $col > $lo_l AND $col <= $hi_l"; BFRAC=$(( w * 1000 / d )) ;;
    19|20|21|22) B=" AND $col BETWEEN $lo_l AND $hi_l"; BFRAC=$(( w * 1000 / d )) ;;
    23|24|25) B=" AND $col = $v_l"; BFRAC=1 ;;
    26|27) B=" AND $lo_l <= $col AND $hi_l > $col"; BFRAC=$(( w * 1000 / d )) ;;
    28) B=" AND $col >= $lo_l AND $col < $hi_l AND $col <> $v_l"; BFRAC=$(( w * 1000 / d )) ;;
    29) if [[ $kind == ts ]]; then B=" AND $col >= NULL::timestamptz"; else B=" AND $col < NULL::int"; fi
        BFRAC=0; BNULL=1 ;;
  esac
  (( BFRAC < 0 )) && BFRAC=0
  (( BFRAC > 1000 )) && BFRAC=1000
  return 0
}

# order_limit TIMECOL IDCOL FULLSEL [FORCE_LIMIT]: sets OL (" ORDER BY ...
# LIMIT ..."), SEL (select list), QK, QNOSORT, LIM (0: no LIMIT), ORD (0 none,
# 1 time, 2 time DESC, 3 time + id, 4 time DESC + id DESC).
order_limit() {
  local tc=$1 idc=$2 full=$3 force=${4:-0}
  rnd 10; ORD=$(( R < 2 ? 0 : (R < 4 ? 1 : (R < 6 ? 2 : (R < 8 ? 3 : 4))) ))
  (( force && ORD == 0 )) && ORD=2
  LIM=0
  rnd 10
  if (( ORD > 0 && (R < 6 || force) )); then
    rnd 8; LIM=$(( R == 0 ? 1 : (R < 3 ? 5 : (R < 5 ? 20 : (R < 7 ? 100 : 700))) ))
  fi
  SEL=$full; QNOSORT=0
  case $ORD in
    0) OL=""; QK="''" ;;
    1) OL=" ORDER BY $tc"; QK="x.$tc"; QNOSORT=1 ;;
    2) OL=" ORDER BY $tc DESC"; QK="x.$tc"; QNOSORT=1 ;;
    3) OL=" ORDER BY $tc, $idc"; QK="x::text" ;;
    4) OL=" ORDER BY $tc DESC, $idc DESC"; QK="x::text" ;;
  esac
  # ordered by time only with a LIMIT: ties at the cut make the row set
  # ambiguous; the times alone are not
  (( (ORD == 1 || ORD == 2) && LIM > 0 )) && SEL=$tc
  (( LIM > 0 )) && OL+=" LIMIT $LIM"
  return 0
}

A_FULL=("*" "event_id, ts, debit_account, credit_account, amount" "event_id, ts, amount, payload")
B_FULL=("*" "id, src, dst, seq" "id, tags, seq, v")

# acct_clause_a MODE: sets C to an account clause of pair A (MODE eq or or);
# ALIST=1 when it is a list of accounts (more than 8, read one after another).
acct_clause_a() {
  ALIST=0
  acct_lit
  if [[ $1 == eq ]]; then
    rnd 2; if (( R )); then C="debit_account = $L"; else C="credit_account = $L"; fi
    rnd 6; (( R == 0 )) && C="$L = ${C%% =*}"
  else
    rnd 8
    local l1=$L n1=$LNULL
    case $R in
      0) C="(debit_account = $L OR credit_account = $L)" ;;
      1) C="(credit_account = $L OR debit_account = $L)" ;;
      2) C="($L = debit_account OR credit_account = $L)" ;;
      3) # two different accounts: merged key streams
         acct_lit; C="(debit_account = $l1 OR credit_account = $L)"
         (( LNULL = LNULL || n1 )) ;;
      4) acct_lit; local l2=$L n2=$LNULL
         acct_lit; C="(credit_account = $l1 OR debit_account = $l2 OR credit_account = $L)"
         (( LNULL = LNULL || n1 || n2 )) ;;
      5) # an IN list on one account column
         acct_lit; C="debit_account IN ($l1, $L)"
         (( LNULL = LNULL || n1 )) ;;
      6) # a list of accounts: more than 8 values
         rnd 6; acct_array $(( R + 9 )); C="debit_account = ANY ($L)"; LNULL=0; ALIST=1 ;;
      7) # both columns, a NULL in the array, and an equality besides
         rnd 4; acct_array $(( R + 9 )); local arr="${L%]::bigint[]}, NULL]::bigint[]"
         C="(credit_account = ANY ($arr) OR debit_account = ANY ($arr) OR credit_account = $l1)"
         LNULL=0; ALIST=1 ;;
    esac
  fi
}

form_acct() {      # acct_eq / acct_or
  acct_clause_a "$1"
  local null=$LNULL
  rnd 2; if (( R )); then time_bounds ts ts; else B=""; BNULL=0; fi
  rnd ${#A_FULL[@]}; order_limit ts event_id "${A_FULL[$R]}"
  QT="SELECT $SEL FROM {T} WHERE $C$B$OL"
  # a list is served when it costs less than the alternatives, and unordered
  QMUST=$(( !null && !BNULL && !ALIST ))
  (( ALIST )) && QNOSORT=0
  return 0
}

form_time_window() {
  time_bounds ts ts
  rnd ${#A_FULL[@]}; order_limit ts event_id "${A_FULL[$R]}"
  QT="SELECT $SEL FROM {T} WHERE true$B$OL"
  # narrow windows, or time order with a small LIMIT
  QMUST=$(( !BNULL && (BFRAC <= 20 || (ORD > 0 && LIM > 0 && LIM <= 100)) ))
}

form_order_limit() {
  rnd ${#A_FULL[@]}; order_limit ts event_id "${A_FULL[$R]}" 1
  QT="SELECT $SEL FROM {T}$OL"
  QMUST=$(( LIM <= 100 ))
}

form_aggregate() {
  rnd 2; if (( R )); then acct_clause_a eq; else acct_clause_a or; fi
  local null=$LNULL
  rnd 2; if (( R )); then time_bounds ts ts; else B=""; BNULL=0; fi
  QT="SELECT count(*), sum(amount), min(ts), max(ts), count(DISTINCT event_id) FROM {T} WHERE $C$B"
  QK="''"; QNOSORT=0
  QMUST=$(( !null && !BNULL ))
}

# acct_array N: sets L to an ARRAY[...]::bigint[] of N accounts (no NULLs).
acct_array() {
  local n=$1 a="" i v
  for (( i = 0; i < n; i++ )); do
    rnd 5; if (( R == 0 )); then rnd 5; else rnd $(( ACCOUNTS + 3 )); fi
    a+="${a:+, }$R"
  done
  L="ARRAY[$a]::bigint[]"
}

form_lateral_join() {
  rnd 4; acct_array $(( R + 1 ))
  local arr=$L cond k
  rnd 2
  if (( R )); then cond="e.debit_account = u.a OR e.credit_account = u.a"; else cond="e.debit_account = u.a"; fi
  rnd 2; if (( R )); then time_bounds e.ts ts; else B=""; BNULL=0; fi
  rnd 20; k=$(( R + 1 ))
  QT="SELECT u.o, u.a, e.* FROM unnest($arr) WITH ORDINALITY u(a, o) CROSS JOIN LATERAL (SELECT e.ts, e.event_id, e.amount FROM {T} e WHERE ($cond)$B ORDER BY e.ts DESC, e.event_id DESC LIMIT $k) e ORDER BY u.o, e.ts DESC, e.event_id DESC"
  QK="x::text"; QNOSORT=0
  QMUST=$(( !BNULL ))
}

form_join() {
  rnd 4; acct_array $(( R + 2 ))
  local arr=$L
  rnd 3
  case $R in
    0) rnd 2; if (( R )); then time_bounds e.ts ts; else B=""; BNULL=0; fi
       QT="SELECT count(*), sum(e.amount), min(e.ts), max(e.ts) FROM unnest($arr) u(a) JOIN {T} e ON e.credit_account = u.a$B"
       QK="''"; QMUST=0 ;;
    1) time_bounds e.ts ts
       QT="SELECT u.o, u.a, (SELECT count(*) || '/' || coalesce(sum(e.amount), 0) FROM {T} e WHERE (e.debit_account = u.a OR e.credit_account = u.a)$B) FROM unnest($arr) WITH ORDINALITY u(a, o) ORDER BY u.o"
       QK="x::text"; QMUST=$(( !BNULL )) ;;
    2) QT="SELECT e.event_id, e.ts, a.a FROM (SELECT DISTINCT a FROM unnest($arr) a) a JOIN {T} e ON e.debit_account = a.a ORDER BY e.ts, e.event_id"
       QK="x::text"; QMUST=0 ;;
  esac
  QNOSORT=0
}

form_generic() {
  local acct lo hi n
  acct_lit; acct=$L
  [[ $acct == NULL::bigint ]] && acct=NULL
  rnd 2000; ts_lit $(( R * STEP_MIN * SLOTS / 2000 - 600 )); lo=$L
  rnd 8; ts_lit $(( (R + 1) * R * STEP_MIN * SLOTS / 60 )); hi="$L"
  rnd 4; n=$(( R == 0 ? 1 : R * 25 ))
  rnd 16
  case $R in
    14|15)
      # an array of accounts as one parameter: a list, whatever its length
      rnd 3; acct_array $(( R * 6 + 1 ))
      QTYPES="bigint[], timestamptz"
      QT="SELECT ts, event_id, amount FROM {T} WHERE (debit_account = ANY (\$1) OR credit_account = ANY (\$1)) AND ts >= \$2 ORDER BY ts DESC, event_id DESC"
      QARGS="$L, $lo"; QK="x::text"; QNOSORT=0 ;;
    12|13)
      # each account bound on its own, as pgbench binds :a twice
      local acct2=$acct
      rnd 3; if (( R == 0 )); then acct_lit; acct2=$L; [[ $acct2 == NULL::bigint ]] && acct2=NULL; fi
      QTYPES="bigint, bigint, timestamptz, int"
      QT="SELECT ts, event_id, amount FROM {T} WHERE (debit_account = \$1 OR credit_account = \$2) AND ts >= \$3 ORDER BY ts DESC, event_id DESC LIMIT \$4"
      QARGS="$acct, $acct2, $lo, $n"; QK="x::text"; QNOSORT=0 ;;
    0|1|2|3)
      QTYPES="bigint, timestamptz, timestamptz, int"
      QT="SELECT ts, event_id, amount FROM {T} WHERE (debit_account = \$1 OR credit_account = \$1) AND ts >= \$2 AND ts < \$3 ORDER BY ts DESC, event_id DESC LIMIT \$4"
      QARGS="$acct, $lo, $lo::timestamptz + interval '10 days', $n"; QK="x::text"; QNOSORT=0 ;;
    4|5)
      QTYPES="int, int"
      QT="SELECT ts FROM {T} WHERE debit_account = \$1 ORDER BY ts DESC LIMIT \$2"
      [[ $acct == *::* || $acct == "'"* || $acct == 9223372036854775807 ]] && acct=3
      QARGS="$acct, $n"; QK="x.ts"; QNOSORT=1 ;;
    6|7)
      QTYPES="bigint, timestamptz"
      QT="SELECT count(*), sum(amount) FROM {T} WHERE credit_account = \$1 AND ts < \$2"
      QARGS="$acct, $hi"; QK="''"; QNOSORT=0 ;;
    8|9)
      QTYPES="timestamptz, timestamptz"
      QT="SELECT event_id, ts FROM {T} WHERE ts BETWEEN \$1 AND \$2 ORDER BY ts, event_id"
      QARGS="$lo, $lo::timestamptz + interval '2 hours'"; QK="x::text"; QNOSORT=0 ;;
    *)
      QTYPES="timestamptz, bigint"
      QT="SELECT ts FROM {T} WHERE ts >= \$1 ORDER BY ts LIMIT \$2"
      QARGS="$lo, $n"; QK="x.ts"; QNOSORT=1 ;;
  esac
  QMUST=1
}

# text account clause of pair B: MODE text (src/dst) or array (tags).
acct_clause_b() {
  name_lit
  if [[ $1 == text ]]; then
    rnd 7
    case $R in
      0) C="src = $L" ;;
      1) C="dst = $L" ;;
      2) C="(src = $L OR dst = $L)" ;;
      6) local l1=$L n1=$LNULL; name_lit; C="(dst = $l1 OR src = $L)"; (( LNULL = LNULL || n1 )) ;;
      3) C="(dst = $L OR src = $L)" ;;
      4) C="dst = $L::varchar" ;;
      5) C="$L = src" ;;
    esac
  else
    rnd 3
    case $R in
      0) C="$L = ANY(tags)" ;;
      1) C="(src = $L OR $L = ANY(tags))" ;;
      2) C="($L = ANY(tags) OR dst = $L OR src = $L)" ;;
    esac
  fi
}

form_text() {      # text_account / text_array
  acct_clause_b "$1"
  local null=$LNULL
  rnd 2; if (( R )); then time_bounds seq seq; else B=""; BNULL=0; fi
  rnd ${#B_FULL[@]}; order_limit seq id "${B_FULL[$R]}"
  QT="SELECT $SEL FROM {T} WHERE $C$B$OL"
  QMUST=$(( !null && !BNULL ))
}

form_int_window() {
  time_bounds seq seq
  rnd ${#B_FULL[@]}; order_limit seq id "${B_FULL[$R]}"
  QT="SELECT $SEL FROM {T} WHERE true$B$OL"
  QMUST=$(( !BNULL && (BFRAC <= 20 || (ORD > 0 && LIM > 0 && LIM <= 100)) ))
}

form_int_order() {
  rnd ${#B_FULL[@]}; order_limit seq id "${B_FULL[$R]}" 1
  QT="SELECT $SEL FROM {T}$OL"
  QMUST=$(( LIM <= 100 ))
}

# wrap I Q K: the query that reports "I|rows|order hash|multiset hash".
wrap() {
  printf "SELECT %s, count(*), coalesce(md5(string_agg(k, ',' ORDER BY rn)), '-'), coalesce(md5(string_agg(r, E'\\\\n' ORDER BY r)), '-') FROM (SELECT row_number() OVER () AS rn, x::text AS r, coalesce((%s)::text, 'NULL') AS k FROM (%s) x) y" "$1" "$3" "$2"
}

declare -a Q_FORM Q_TEXT Q_ARGS Q_MUST Q_NOSORT Q_PAIR

# emit_query I QUERY TABLE FILE [explain]: appends query I (wrapped, {T}
# replaced by TABLE) to FILE, as a prepared statement when it has parameter
# types (QTYPES, QARGS); with "explain", its plan after a "@@ I" marker.
emit_query() {
  local i=$1 q=${2//\{T\}/$3} file=$4 explain=${5:-}
  if [[ -n "$QTYPES" ]]; then
    if [[ -n "$explain" ]]; then
      printf '\\echo @@ %s\nPREPARE rd_%s(%s) AS %s;\nEXPLAIN (COSTS OFF) EXECUTE rd_%s(%s);\nDEALLOCATE rd_%s;\n' \
        "$i" "$i" "$QTYPES" "$q" "$i" "$QARGS" "$i" >>"$file"
    else
      printf 'PREPARE rd_%s(%s) AS %s;\nEXECUTE rd_%s(%s);\nDEALLOCATE rd_%s;\n' \
        "$i" "$QTYPES" "$q" "$i" "$QARGS" "$i" >>"$file"
    fi
  elif [[ -n "$explain" ]]; then
    printf '\\echo @@ %s\nEXPLAIN (COSTS OFF) %s;\n' "$i" "$q" >>"$file"
  else
    printf '%s;\n' "$q" >>"$file"
  fi
}

gen_queries() {
  local n=$1 dir=$2 events=$3 i f pair w script
  SLOTS=$(( events * 2 / 5 ))
  local header="SET max_parallel_workers_per_gather = 0;
SET plan_cache_mode = force_generic_plan;
SET statement_timeout = '60s';
SET TimeZone = 'UTC';"
  for script in ledger heap plans part part_plans; do echo "$header" >"$dir/$script.sql"; done
  : >"$dir/queries.txt"
  for (( i = 1; i <= n; i++ )); do
    QTYPES=""; QARGS=""
    rnd 100
    if   (( R < 13 )); then f=acct_eq;       pair=a; form_acct eq
    elif (( R < 26 )); then f=acct_or;       pair=a; form_acct or
    elif (( R < 37 )); then f=time_window;   pair=a; form_time_window
    elif (( R < 43 )); then f=order_limit;   pair=a; form_order_limit
    elif (( R < 49 )); then f=aggregate;     pair=a; form_aggregate
    elif (( R < 55 )); then f=lateral_join;  pair=a; form_lateral_join
    elif (( R < 60 )); then f='join';        pair=a; form_join
    elif (( R < 69 )); then f=generic;       pair=a; form_generic
    elif (( R < 81 )); then f=text_account;  pair=b; form_text text
    elif (( R < 89 )); then f=text_array;    pair=b; form_text array
    elif (( R < 96 )); then f=int_window;    pair=b; form_int_window
    else                    f=int_order;     pair=b; form_int_order
    fi
    Q_FORM[$i]=$f; Q_TEXT[$i]=$QT; Q_ARGS[$i]=$QARGS; Q_MUST[$i]=$QMUST; Q_NOSORT[$i]=$QNOSORT
    Q_PAIR[$i]=$pair
    printf '%s\t%s\t%s\t%s\n' "$i" "$f" "$QT" "$QARGS" >>"$dir/queries.txt"
    w=$(wrap "$i" "$QT" "$QK")
    emit_query "$i" "$w" "l$pair" "$dir/ledger.sql"
    emit_query "$i" "$w" "h$pair" "$dir/heap.sql"
    emit_query "$i" "$w" "l$pair" "$dir/plans.sql" explain
    if [[ $pair == a ]]; then
      emit_query "$i" "$w" pa "$dir/part.sql"
      emit_query "$i" "$w" pa "$dir/part_plans.sql" explain
    fi
  done
}
