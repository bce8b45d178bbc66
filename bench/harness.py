#!/usr/bin/python3
"""bench/harness.py: heap vs ledger_am benchmark (started by bench/run).

Starts a throwaway PostgreSQL 15 cluster with ledger_am preloaded, creates the
canonical events table twice (USING heap and USING ledger_am, same primary key,
unique constraint and secondary indexes) and runs the workloads of issue 5,
alternating the two tables (ABBA order per repeat) so machine drift hits both
alike. Writes bench/results/{results.csv,raw.csv,results.md,sustained.png,
ratios.png} and prints the results table. See bench/README.md.

Runs as root (every server and client command runs as the OS user postgres via
runuser, through scripts/cluster.sh) or as postgres.
"""

import argparse
import csv
import datetime
import glob
import hashlib
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORKLOADS = os.path.join(BENCH, "workloads")
CLUSTER_SH = os.path.join(REPO, "scripts", "cluster.sh")

GROUPS = ["copy", "bytes", "reads", "write1", "write100", "sustained"]
TABLES = ["heap", "ledger_am"]
TNAME = {"heap": "events_heap", "ledger_am": "events_ledger"}
COLS = ("event_id, event_type, aggregate_id, aggregate_version, ts, debit_account, "
        "credit_account, tx_id, amount, currency, payload, metadata")
T0 = time.monotonic()
IS_ROOT = os.geteuid() == 0


class BenchError(Exception):
    """A failed step: recorded in the results, the run goes on where it can."""


# --------------------------------------------------------------------------
# output helpers


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el // 60):3d}:{int(el % 60):02d}] {msg}", flush=True)


def fmt_num(v, unit=""):
    if v is None:
        return "—"
    if unit == "ms":
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    if unit == "MB":
        return f"{v:,.1f}"
    if unit == "s":
        return f"{v:.2f}"
    if unit in ("x",):
        return f"{v:.2f}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def human_rows(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# --------------------------------------------------------------------------
# running things as postgres


def as_pg(cmd):
    if IS_ROOT:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def cluster_fn(*args, check=True, capture=False):
    """Run one scripts/cluster.sh function (bash)."""
    line = "source " + shlex.quote(CLUSTER_SH) + " && " + " ".join(shlex.quote(a) for a in args)
    r = subprocess.run(["bash", "-c", line], cwd="/", text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None)
    if check and r.returncode != 0:
        raise BenchError(f"{args[0]} failed" + (f": {r.stdout}" if capture else ""))
    return r


class Cluster:
    def __init__(self, workdir, port):
        self.dir = os.path.join(workdir, "pgdata")
        self.port = str(port)
        self.sock = self.dir
        self.started = False

    def conn_args(self, db="bench"):
        """Connection options of psql (where -d names the database)."""
        return ["-h", self.sock, "-p", self.port, "-U", "postgres", "-d", db]

    def pgbench_cmd(self, script, clients, duration, sync, defines, db="bench"):
        """The pgbench command line of one run. pgbench takes the database
        as its last argument: its -d is --debug, which logs every command
        and made the client the bottleneck of fast workloads (sessions 1-10
        ran that way, see bench/README.md)."""
        return (["env", f"PGOPTIONS=-c synchronous_commit={sync}",
                 "pgbench", "-n", "-M", "prepared", "-c", str(clients),
                 "-j", str(min(2, clients)), "-T", str(duration), "-f", script] +
                [x for k, v in defines.items() for x in ("-D", f"{k}={v}")] +
                ["-h", self.sock, "-p", self.port, "-U", "postgres", db])

    def psql(self, sql, db="bench", timeout=None, env=None, check=True):
        """Run SQL (one script, ON_ERROR_STOP) and return stdout (tuples only)."""
        cmd = as_pg(["env"] + [f"{k}={v}" for k, v in (env or {}).items()] +
                    ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] +
                    self.conn_args(db))
        try:
            r = subprocess.run(cmd, input=sql, text=True, cwd="/", capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            self.cancel_all()
            raise BenchError(f"timed out after {timeout} s (possible hang): {sql.strip()[:200]}")
        if check and r.returncode != 0:
            raise BenchError(f"psql failed: {r.stderr.strip()} [SQL: {sql.strip()[:300]}]")
        return r.stdout.strip()

    def psql_timed(self, sql, db="bench", timeout=None, env=None):
        """Run one statement with \\timing; return the server round-trip in seconds."""
        out = self.psql("\\timing on\n" + sql.strip() + "\n", db=db, timeout=timeout, env=env)
        times = re.findall(r"Time: ([0-9.]+) ms", out)
        if not times:
            raise BenchError(f"no timing in psql output: {out[:200]}")
        return float(times[-1]) / 1000.0

    def cancel_all(self):
        try:
            subprocess.run(as_pg(["psql", "-X", "-q", "-At"] + self.conn_args("postgres") + [
                "-c", "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                      "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"]),
                cwd="/", capture_output=True, timeout=30)
        except Exception:
            pass

    def server_log_tail(self, n=15):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# --------------------------------------------------------------------------
# measurements


class CpuMonitor(threading.Thread):
    """Samples /proc every second and adds up the CPU time of processes that are
    not this benchmark's (neither descendants of this process nor of the
    cluster's postmaster; kernel threads excluded): other work sharing the
    machine skews the numbers, so every measurement records how much there was."""

    def __init__(self, pidfile):
        super().__init__(daemon=True)
        self.pidfile = pidfile
        self.hz = os.sysconf("SC_CLK_TCK")
        self.foreign = 0.0
        self.last = {}
        self.stop = threading.Event()
        self.top = {}  # command -> foreign CPU seconds

    def read(self):
        procs = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            r = st.rfind(")")
            comm = st[st.find("(") + 1:r]
            f = st[r + 2:].split()
            procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]), comm)
        return procs

    def sample(self):
        procs = self.read()
        roots = {os.getpid()}
        try:
            with open(self.pidfile) as f:
                roots.add(int(f.readline().strip()))
        except (OSError, ValueError):
            pass
        ours = {}

        def is_ours(pid):
            chain = []
            while pid not in ours:
                if pid in roots:
                    ours[pid] = True
                    break
                if pid <= 2 or pid not in procs:
                    ours[pid] = pid == 2  # kernel threads count as ours (I/O for us)
                    break
                chain.append(pid)
                pid = procs[pid][0]
            for c in chain:
                ours[c] = ours[pid]
            return ours[pid]

        for pid, (ppid, jif, comm) in procs.items():
            if pid in self.last and not is_ours(pid):
                d = (jif - self.last[pid]) / self.hz
                if d > 0:
                    self.foreign += d
                    self.top[comm] = self.top.get(comm, 0.0) + d
        self.last = {pid: v[1] for pid, v in procs.items()}

    def run(self):
        while not self.stop.wait(1.0):
            try:
                self.sample()
            except Exception:
                pass

    def mark(self):
        return (time.monotonic(), self.foreign)

    def pct_since(self, mark):
        """Foreign CPU since mark, in % of all cores."""
        el = time.monotonic() - mark[0]
        return 100.0 * (self.foreign - mark[1]) / (el * (os.cpu_count() or 1)) if el > 0 else 0.0


class Results:
    def __init__(self):
        self.raw = []          # dicts: group, key, label, metric, unit, table, rep, value, foreign
        self.errors = []       # strings
        self.info = {}         # facts gathered along the way
        self.sustained = {t: [] for t in TABLES}  # (rows_after, events_per_s)
        self.bytes = {}

    def add(self, group, key, label, metric, unit, table, rep, value, foreign=None):
        self.raw.append(dict(group=group, key=key, label=label, metric=metric, unit=unit,
                             table=table, rep=rep, value=value, foreign=foreign))

    def values(self, key, metric, table):
        return [r["value"] for r in self.raw
                if r["key"] == key and r["metric"] == metric and r["table"] == table
                and r["value"] is not None]

    def error(self, msg):
        self.errors.append(msg)
        log("ERROR: " + msg)


def drop_cached(path):
    """Drop a generated CSV from the page cache once a COPY has read it. A
    10M-event CSV is 7.8 GB: left cached it pushed both tables' files out of
    the page cache on 24 GB of RAM, so later reads hit the disk, for whichever
    table lost the race (seen in session 4: heap's first point lookups at a
    fifth of its warm rate)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except OSError:
        pass


def pgbench_parse(out):
    tps = re.search(r"^tps = ([0-9.]+)", out, re.M)
    lat = re.search(r"^latency average = ([0-9.]+) ms", out, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    return (float(tps.group(1)) if tps else None,
            float(lat.group(1)) if lat else None,
            int(failed.group(1)) if failed else 0)


# --------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, args):
        self.a = args
        self.res = Results()
        self.cl = Cluster(args.workdir, args.port)
        self.datadir = os.path.join(args.workdir, "data")
        self.workfiles = os.path.join(args.workdir, "work")
        self.gen = os.path.join(args.workdir, "bin", "gen_events")
        self.loaded_rows = 0      # rows each table holds from the last COPY
        self.loaded_step = None
        self.pgbench_total = 0
        self.pgbench_done = 0
        self.clusters = 0
        self.mon = CpuMonitor(os.path.join(self.cl.dir, "postmaster.pid"))
        self.run_mark = self.mon.mark()
        with open("/proc/loadavg") as f:
            self.load_start = f.read().split()[0]

    # ---- set-up -----------------------------------------------------------

    def prepare(self):
        """Work directories and the data generator (compiled once per run)."""
        a = self.a
        os.makedirs(a.workdir, exist_ok=True)
        os.chmod(a.workdir, 0o755)
        for d in (self.datadir, self.workfiles, os.path.dirname(self.gen)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        r = subprocess.run(["cc", "-O2", "-Wall", "-o", self.gen,
                            os.path.join(BENCH, "gen", "gen_events.c")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("could not compile bench/gen/gen_events.c: " + r.stderr)

    def new_cluster(self, why):
        """A fresh cluster (initdb) with the extension, the bench database and
        both (empty) tables. Every COPY repeat and the sustained ingest start in
        a fresh one, so neither table inherits another load's dirty buffers,
        WAL or LSM garbage (dropped tables leave range tombstones in RocksDB),
        and RocksDB's files then hold exactly the loaded table."""
        a = self.a
        if self.cl.started:
            self.server_log_summary()
        cluster_fn("cluster_remove", self.cl.dir, capture=True)
        cluster_fn("cluster_init", self.cl.dir, self.cl.port, "ledger_am", capture=True)
        settings = [
            ("shared_buffers", "1GB"),
            ("max_wal_size", "4GB"),
            ("checkpoint_timeout", "30min"),
            ("autovacuum", "off"),
        ] + [tuple(x.split("=", 1)) for x in a.set]
        with open(os.path.join(self.cl.dir, "postgresql.conf"), "a") as f:
            f.write("\n# --- added by bench/harness.py ---\n")
            for k, v in settings:
                f.write(f"{k.strip()} = '{v.strip()}'\n")
        cluster_fn("cluster_start", self.cl.dir, capture=True)
        self.cl.started = True
        self.clusters += 1
        self.cl.psql("CREATE DATABASE bench;", db="postgres")
        # retried while the storage worker is still opening RocksDB
        r = cluster_fn("cluster_psql_retry", self.cl.dir, "60",
                       "BEGIN; CREATE EXTENSION ledger_am; COMMIT;", "-d", "bench", "-q",
                       check=False, capture=True)
        if r.returncode != 0:
            raise BenchError("CREATE EXTENSION ledger_am failed: " + r.stdout)
        self.cl.psql("""
CREATE FUNCTION bench_event_id(i bigint, step_ms bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (lpad(to_hex(1704067200000 + i * step_ms), 12, '0') || '70008'
           || lpad(to_hex(i), 15, '0'))::uuid $$;
""")
        if "settings" not in self.res.info:
            self.pg_facts()
        md5 = self.so_md5()
        first = self.res.info["build"].get("installed ledger_am.so md5")
        if first and md5 != first:
            self.res.error(f"the installed ledger_am.so changed during the run (md5 {first} at "
                           f"the start, {md5} for cluster #{self.clusters}): results mix builds")
        self.create_tables()
        log(f"fresh cluster #{self.clusters} ({why}): {self.cl.dir}, port {self.cl.port}")

    SECONDARY = [("debit_ts", "(debit_account, ts)"), ("credit_ts", "(credit_account, ts)"),
                 ("ts", "(ts)")]

    def ledger_ddl(self):
        """The canonical ledger_am table (ledger_am.create_events_table: PK on
        event_id, UNIQUE (aggregate_id, aggregate_version), and whatever else the
        installed version declares, e.g. its ledger_range declaration), plus the
        three btree secondary indexes unless --ledger-indexes range; with
        btree-only the ledger_range declaration is dropped."""
        mode = self.a.ledger_indexes
        ddl = "SELECT ledger_am.create_events_table('events_ledger');\n"
        if mode in ("btree", "btree-only"):
            ddl += "".join(f"CREATE INDEX events_ledger_{n} ON events_ledger {c};\n"
                           for n, c in self.SECONDARY)
        if mode in ("range", "btree-only"):
            ddl += """DO $$
DECLARE r record; n int := 0;
BEGIN
  FOR r IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_am a ON a.oid = c.relam
           WHERE i.indrelid = 'events_ledger'::regclass AND a.amname = 'ledger_range' LOOP
    n := n + 1;
    IF %s THEN EXECUTE format('DROP INDEX %%I', r.relname); END IF;
  END LOOP;
  IF n = 0 AND %s THEN
    RAISE EXCEPTION '--ledger-indexes range: this ledger_am has no ledger_range declaration';
  END IF;
END $$;
""" % ("true" if mode == "btree-only" else "false", "true" if mode == "range" else "false")
        return ddl

    # The heap twin: same columns, defaults, CHECK constraints, PRIMARY KEY and
    # UNIQUE constraints as the ledger_am table (copied from the catalog), and
    # the three btree secondary indexes. Index kinds that only exist for
    # ledger_am (ledger_range) are not copied.
    HEAP_DDL = """CREATE TABLE events_heap (LIKE events_ledger INCLUDING ALL EXCLUDING INDEXES) USING heap;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE conrelid = 'events_ledger'::regclass AND contype IN ('p', 'u')
           ORDER BY contype, conname LOOP
    EXECUTE 'ALTER TABLE events_heap ADD ' || r.def;
  END LOOP;
END $$;
""" + "".join(f"CREATE INDEX events_heap_{n} ON events_heap {c};\n" for n, c in [
        ("debit_ts", "(debit_account, ts)"), ("credit_ts", "(credit_account, ts)"), ("ts", "(ts)")])

    def create_table(self, t):
        """Drop and re-create one of the two tables (the other one is kept)."""
        ddl = self.ledger_ddl() if t == "ledger_am" else self.HEAP_DDL
        self.cl.psql(f"SET client_min_messages = warning;\nDROP TABLE IF EXISTS {TNAME[t]};\n"
                     + ddl)

    def create_tables(self):
        """(Re)create both tables (see ledger_ddl and HEAP_DDL)."""
        self.cl.psql("SET client_min_messages = warning;\nDROP TABLE IF EXISTS events_heap;\n"
                     "DROP TABLE IF EXISTS events_ledger;\n" + self.ledger_ddl() + self.HEAP_DDL)
        if "schema" not in self.res.info:
            self.check_schema()

    def check_schema(self):
        q = r"""SELECT c.relname, ta.amname, ia.amname,
  regexp_replace(regexp_replace(pg_get_indexdef(i.indexrelid), 'INDEX \S+ ON public\.\w+ ', 'INDEX ON T '),
                 'CREATE (UNIQUE )?INDEX ON T USING \w+ ', '\1')
FROM pg_class c JOIN pg_am ta ON ta.oid = c.relam
JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am ia ON ia.oid = ic.relam
WHERE c.relname IN ('events_heap', 'events_ledger') ORDER BY 1, 3, 4"""
        out = self.cl.psql(q)
        idx = {"events_heap": [], "events_ledger": []}
        am = {}
        for line in out.splitlines():
            rel, tam, iam, d = line.split("|")
            am[rel] = tam
            idx[rel].append(f"{iam} {d}")
        hb = sorted(x for x in idx["events_heap"] if x.startswith("btree"))
        lb = sorted(x for x in idx["events_ledger"] if x.startswith("btree"))
        if am.get("events_heap") != "heap" or am.get("events_ledger") != "ledger_am":
            raise BenchError(f"unexpected access methods: {am}")
        if self.a.ledger_indexes != "range" and hb != lb:
            raise BenchError(f"heap and ledger_am btree indexes differ: {hb} vs {lb}")
        self.res.info["schema"] = {
            "heap": "; ".join(idx["events_heap"]),
            "ledger_am": "; ".join(idx["events_ledger"]),
        }

    def gen_file(self, first, count, step, name):
        path = os.path.join(self.datadir, name)
        t = time.monotonic()
        with open(path, "wb") as f:
            r = subprocess.run([self.gen, str(first), str(count), str(self.a.accounts), str(step)],
                               stdout=f)
        if r.returncode != 0:
            raise BenchError("gen_events failed")
        os.chmod(path, 0o644)
        log(f"  generated {human_rows(count)} events ({os.path.getsize(path) / 1e6:,.0f} MB CSV) "
            f"in {time.monotonic() - t:.1f} s -> {path}")
        return path

    def step_for(self, rows):
        """ts step so that `rows` events span one year (at least 1 ms)."""
        return max(1, 365 * 86400 * 1000 // max(rows, 1))

    def copy_into(self, table, path, rows, timeout):
        """Timed server-side COPY FROM of `path` into `table`; progress while it runs."""
        stop = threading.Event()

        def progress():
            t = time.monotonic()
            while not stop.wait(15):
                try:
                    n = self.cl.psql("SELECT tuples_processed FROM pg_stat_progress_copy "
                                     "WHERE relid = '%s'::regclass" % TNAME[table], timeout=20)
                except Exception:
                    continue
                if n:
                    el = time.monotonic() - t
                    log(f"      ... {TNAME[table]}: {int(n):,} / {rows:,} rows "
                        f"({int(n) / el:,.0f} rows/s so far)")

        th = threading.Thread(target=progress, daemon=True)
        th.start()
        try:
            secs = self.cl.psql_timed(
                f"COPY {TNAME[table]} ({COLS}) FROM '{path}' WITH (FORMAT csv);", timeout=timeout)
        finally:
            stop.set()
            drop_cached(path)
        return secs

    def checkpoint(self):
        self.cl.psql("CHECKPOINT;", timeout=1800)

    @staticmethod
    def foreign_note(pct):
        return f"  [other processes: {pct:.0f}% CPU]" if pct >= 5 else ""

    @staticmethod
    def abba(rep):
        return TABLES if rep % 2 == 1 else list(reversed(TABLES))

    # ---- (3) COPY and (4) bytes ---------------------------------------------

    def run_copy(self, timed=True):
        """Per scale and repeat: a fresh cluster, then COPY of the same CSV into
        both tables (ABBA order). After the last repeat of a scale both tables
        hold that load: VACUUM ANALYZE, and bytes on disk when selected. Reads
        and writes then run in the cluster of the largest scale's last repeat.
        When copy is not selected: one untimed load per table."""
        a = self.a
        scales = a.scale if timed else [max(a.scale)]
        reps = a.repeats if timed else 1
        for n in scales:
            step = self.step_for(n)
            log(f"(3) COPY FROM of {n:,} events: generating the CSV once")
            path = self.gen_file(0, n, step, f"events_{n}.csv")
            key = f"copy_{n}"
            label = f"COPY FROM {human_rows(n)} events"
            for rep in range(1, reps + 1):
                self.new_cluster(f"COPY {human_rows(n)} repeat {rep}/{reps}")
                for t in self.abba(rep):
                    self.checkpoint()
                    mk = self.mon.mark()
                    try:
                        secs = self.copy_into(t, path, n, timeout=600 + n // 500)
                    except BenchError as e:
                        self.res.error(f"{label} into {t} (repeat {rep}): {e}")
                        if timed:
                            self.res.add("copy", key, label, "events/s", "events/s", t, rep, None)
                        continue
                    eps = n / secs
                    fp = self.mon.pct_since(mk)
                    if timed:
                        self.res.add("copy", key, label, "events/s", "events/s", t, rep, eps, fp)
                    log(f"  {'COPY' if timed else 'load (untimed)'} {human_rows(n)} -> {t:9s} "
                        f"rep {rep}/{reps}: {secs:7.2f} s  {eps:>10,.0f} events/s" +
                        self.foreign_note(fp))
            if not a.keep:
                os.remove(path)
            self.loaded_rows, self.loaded_step = n, step
            self.check_loaded()
            self.vacuum_analyze(n)
            if "bytes" in a.only:
                self.measure_bytes(n)

    def check_loaded(self):
        n = self.loaded_rows
        cnt = [int(x) for x in self.cl.psql(
            "SELECT (SELECT count(*) FROM events_heap), (SELECT count(*) FROM events_ledger)"
        ).split("|")]
        if cnt != [n, n]:
            raise BenchError(f"after the load heap holds {cnt[0]:,} rows and ledger_am "
                             f"{cnt[1]:,}; expected {n:,} each")

    def vacuum_analyze(self, n):
        for t in TABLES:
            secs = self.cl.psql_timed(f"VACUUM ANALYZE {TNAME[t]};", timeout=7200)
            self.res.add("bytes", f"vacuum_{n}", f"VACUUM ANALYZE after the load of "
                         f"{human_rows(n)}", "seconds", "s", t, 1, secs)
            log(f"  VACUUM ANALYZE {t:9s}: {secs:.2f} s")

    def rocksdb_files(self):
        """Bytes of the RocksDB instance's files: SST, WAL, other (MANIFEST, LOG...)."""
        sst = wal = other = 0
        for root, _, files in os.walk(os.path.join(self.cl.dir, "ledger_am")):
            for f in files:
                try:
                    sz = os.path.getsize(os.path.join(root, f))
                except OSError:
                    continue
                if f.endswith(".sst"):
                    sst += sz
                elif f.endswith(".log") and f[:-4].isdigit():
                    wal += sz
                else:
                    other += sz
        return sst, wal, other

    def measure_bytes(self, n):
        """(4) Bytes on disk. heap: pg_total_relation_size. ledger_am: all SST
        files of the RocksDB instance (it holds nothing but this table: fresh
        cluster) after ledger_am.compact, plus pg_indexes_size. Also reported:
        ledger_am.table_size (row keys only: it leaves out the range keys of a
        ledger_range declaration) before and after compaction."""
        label_n = human_rows(n)
        log(f"(4) bytes on disk after the load of {n:,} events")
        q = self.cl.psql
        h = [int(x) for x in q(
            "SELECT pg_total_relation_size('events_heap'), pg_relation_size('events_heap'), "
            "pg_indexes_size('events_heap'), pg_table_size('events_heap'), "
            "coalesce((SELECT pg_total_relation_size(reltoastrelid) FROM pg_class "
            "          WHERE oid = 'events_heap'::regclass AND reltoastrelid <> 0), 0)"
        ).split("|")]
        l_before = int(q("SELECT ledger_am.table_size('events_ledger')"))
        f_before = self.rocksdb_files()
        l_idx = int(q("SELECT pg_indexes_size('events_ledger')"))
        t = time.monotonic()
        q("SELECT ledger_am.compact('events_ledger')", timeout=7200)
        compact_s = time.monotonic() - t
        l_after = int(q("SELECT ledger_am.table_size('events_ledger')"))
        f_after = self.rocksdb_files()
        b = dict(rows=n, heap_total=h[0], heap_main=h[1], heap_indexes=h[2], heap_table=h[3],
                 heap_toast=h[4], ledger_before=l_before, ledger_after=l_after,
                 ledger_indexes=l_idx, compact_s=compact_s, files_before=f_before,
                 files_after=f_after)
        self.res.bytes[n] = b
        mb = 1e6
        rows = [
            (f"bytes_{n}", f"bytes on disk, {label_n} events (RocksDB SST files, compacted)",
             f_after[0] + l_idx),
            (f"bytes_{n}_before", f"bytes on disk, {label_n} events (SST + WAL files, before "
             f"compaction)", f_before[0] + f_before[1] + l_idx),
            (f"bytes_{n}_tablesize", f"bytes on disk, {label_n} events (ledger_am.table_size, "
             f"compacted; excludes range keys)", l_after + l_idx),
        ]
        for key, label, lv in rows:
            self.res.add("bytes", key, label, "MB", "MB", "heap", 1, h[0] / mb)
            self.res.add("bytes", key, label, "MB", "MB", "ledger_am", 1, lv / mb)
        log(f"  heap: {h[0] / mb:,.1f} MB (table {h[1] / mb:,.1f} + toast {h[4] / mb:,.1f} "
            f"+ indexes {h[2] / mb:,.1f})")
        log(f"  ledger_am: SST files {f_before[0] / mb:,.1f} MB before / {f_after[0] / mb:,.1f} MB "
            f"after compact ({compact_s:.1f} s); table_size {l_before / mb:,.1f} / "
            f"{l_after / mb:,.1f} MB; RocksDB WAL {f_after[1] / mb:,.1f} MB; "
            f"indexes {l_idx / mb:,.1f} MB")

    # ---- pgbench ------------------------------------------------------------

    def script(self, name, table):
        src = os.path.join(WORKLOADS, name + ".sql")
        dst = os.path.join(self.workfiles, f"{name}.{TNAME[table]}.sql")
        with open(src) as f:
            text = f.read().replace("@TABLE@", TNAME[table])
        with open(dst, "w") as f:
            f.write(text)
        os.chmod(dst, 0o644)
        return dst

    def pgbench(self, group, key, label, name, clients, sync, defines, per_tx=1):
        a = self.a
        for rep in range(1, a.repeats + 1):
            for t in self.abba(rep):
                path = self.script(name, t)
                cmd = self.cl.pgbench_cmd(path, clients, a.duration, sync, defines)
                self.pgbench_done += 1
                mk = self.mon.mark()
                try:
                    r = subprocess.run(as_pg(cmd), cwd="/", capture_output=True, text=True,
                                       timeout=a.duration * 10 + 300)
                except subprocess.TimeoutExpired:
                    self.cl.cancel_all()
                    self.res.error(f"{label} on {t} rep {rep}: pgbench timed out "
                                   f"(> {a.duration * 10 + 300} s; possible hang)")
                    continue
                fp = self.mon.pct_since(mk)
                tps, lat, failed = pgbench_parse(r.stdout)
                bad = r.returncode != 0 or tps is None or failed
                if bad:
                    errs = "; ".join(sorted(set(
                        re.sub(r"client \d+ ", "client N ", l.strip())
                        for l in r.stderr.splitlines() if "error" in l.lower())))[:600]
                    self.res.error(f"{label} on {t} rep {rep}: pgbench rc={r.returncode} "
                                   f"failed={failed}: {errs or r.stdout[-300:]}")
                    tps = lat = None
                self.res.add(group, key, label, "tps", "tx/s", t, rep, tps, fp)
                self.res.add(group, key, label, "latency", "ms", t, rep, lat, fp)
                if per_tx != 1:
                    self.res.add(group, key, label, "events/s", "events/s", t, rep,
                                 None if tps is None else tps * per_tx, fp)
                if tps is not None:
                    log(f"  [{self.pgbench_done}/{self.pgbench_total}] {label:38s} {t:9s} "
                        f"rep {rep}/{a.repeats}: {tps:>10,.1f} tps  {lat:8.3f} ms" +
                        (f"  ({tps * per_tx:,.0f} events/s)" if per_tx != 1 else "") +
                        self.foreign_note(fp))

    def read_defines(self):
        n, step = self.loaded_rows, self.loaded_step
        span_days = n * step // 86_400_000
        return {"rows": n, "accounts": self.a.accounts, "step": step,
                "days30": max(0, span_days - 30)}

    def table_files(self, t):
        """The files holding table t's data and indexes: heap's relation files
        (all segments), or ledger_am's RocksDB SST files plus its btrees'."""
        rels = self.cl.psql(
            f"SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = '{TNAME[t]}'::regclass "
            f"OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = '{TNAME[t]}'::regclass) "
            f"OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = '{TNAME[t]}'::regclass)")
        paths = []
        for rel in filter(None, rels.splitlines()):
            base = os.path.join(self.cl.dir, rel.strip())
            paths += [f for f in glob.glob(base) + glob.glob(base + ".*") + glob.glob(base + "_*")]
        if t == "ledger_am":
            paths += glob.glob(os.path.join(self.cl.dir, "ledger_am", "*.sst"))
        return paths

    def prewarm_page_cache(self):
        """Reads every file of both tables once, so the reads start with both
        in the OS page cache. Without it, which pages survived the loads, the
        CSV reads and ledger_am's compaction decided whether heap read from
        memory or from disk (session 8's and 9's 10M runs: heap's 4-client
        30-day window at 215 tps against 750, its last-50 at 0.8 tps)."""
        for t in TABLES:
            t0, total = time.monotonic(), 0
            for path in self.table_files(t):
                try:
                    with open(path, "rb", buffering=0) as f:
                        while True:
                            b = f.read(1 << 20)
                            if not b:
                                break
                            total += len(b)
                except OSError:
                    continue
            log(f"  page cache: read {total / 2**20:,.0f} MB of {t} files in "
                f"{time.monotonic() - t0:.1f} s")

    def run_reads(self):
        n = self.loaded_rows
        log(f"(5) reads on the loaded tables ({n:,} events each), "
            f"{self.a.duration} s per run, pgbench -M prepared")
        self.prewarm_page_cache()
        d = self.read_defines()
        for name, label in [("point", "point lookup by event_id"),
                            ("last50", "account's last 50 events"),
                            ("window30d", "account 30-day window"),
                            ("window10k", "10,000-event time window"),
                            ("scan", "count(*), sum(amount) over all")]:
            for c in (1, 4):
                self.pgbench("reads", f"read_{name}_c{c}", f"{label}, {c} client{'s' * (c > 1)}",
                             name, c, "on", d)

    def run_write1(self):
        log(f"(1) single-event transactions, {self.a.duration} s per run")
        for sync in ("on", "off"):
            for c in (1, 4, 16):
                self.checkpoint()
                self.pgbench("write1", f"write1_{sync}_c{c}",
                             f"1-event tx, sync {sync}, {c} client{'s' * (c > 1)}",
                             "insert_one", c, sync, {"accounts": self.a.accounts})

    def run_write100(self):
        log(f"(2) 100-event transactions, {self.a.duration} s per run")
        for c in (1, 4):
            self.checkpoint()
            self.pgbench("write100", f"write100_c{c}",
                         f"100-event tx, {c} client{'s' * (c > 1)}",
                         "insert_100", c, "on", {"accounts": self.a.accounts}, per_tx=100)

    # ---- (6) sustained ingest ----------------------------------------------

    def run_sustained(self):
        a = self.a
        total, chunk = a.sustained, a.chunk
        nchunks = (total + chunk - 1) // chunk
        step = self.step_for(total)
        log(f"(6) sustained ingest: COPY chunks of {chunk:,} events into fresh tables "
            f"until {total:,} rows each ({nchunks} chunks per table, alternating)")
        self.new_cluster("sustained ingest")
        self.checkpoint()
        rows = {t: 0 for t in TABLES}
        for k in range(nchunks):
            first = k * chunk
            cnt = min(chunk, total - first)
            path = self.gen_file(first, cnt, step, f"chunk_{k}.csv")
            for t in self.abba(k + 1):
                mk = self.mon.mark()
                try:
                    secs = self.copy_into(t, path, cnt, timeout=600 + cnt // 200)
                except BenchError as e:
                    self.res.error(f"sustained chunk {k + 1} into {t}: {e}")
                    continue
                rows[t] += cnt
                eps = cnt / secs
                fp = self.mon.pct_since(mk)
                self.res.sustained[t].append((rows[t], eps, fp))
                log(f"  chunk {k + 1:3d}/{nchunks} {t:9s}: {rows[t]:>12,} rows  "
                    f"{eps:>10,.0f} events/s ({secs:.2f} s)" + self.foreign_note(fp))
            os.remove(path)
        # bar: own rate at the final size vs at 1M rows (or the first chunk when
        # the run is smaller). Single chunks are noisy, so also: the median of
        # the last 20% of chunks over the median of the first 20%.
        for t in TABLES:
            pts = self.res.sustained[t]
            if len(pts) < 2:
                continue
            ref = next((p for p in pts if p[0] >= 1_000_000), pts[0]) \
                if pts[-1][0] > 1_000_000 else pts[0]
            last = pts[-1]
            self.res.info.setdefault("sustained_ref", {})[t] = (ref, last)
            self.res.add("sustained", "sustained_own",
                         f"sustained: own rate, chunk ending at {human_rows(last[0])} / chunk "
                         f"ending at {human_rows(ref[0])}", "ratio", "x", t, 1, last[1] / ref[1])
            k = max(1, -(-len(pts) // 5))
            head, tail = pts[:k], pts[-k:]
            self.res.add("sustained", "sustained_own_smooth",
                         f"sustained: own rate, median of chunks {human_rows(tail[0][0])}–"
                         f"{human_rows(tail[-1][0])} / median of chunks {human_rows(head[0][0])}–"
                         f"{human_rows(head[-1][0])}", "ratio", "x", t, 1,
                         statistics.median(p[1] for p in tail) /
                         statistics.median(p[1] for p in head))
            self.res.add("sustained", "sustained_ref", f"sustained: events/s of the chunk ending "
                         f"at {human_rows(ref[0])}", "events/s", "events/s", t, 1, ref[1])
            self.res.add("sustained", "sustained_last", f"sustained: events/s of the chunk ending "
                         f"at {human_rows(last[0])}", "events/s", "events/s", t, 1, last[1])
            self.res.add("sustained", "sustained_all", "sustained: median events/s over all "
                         "chunks", "events/s", "events/s", t, 1,
                         statistics.median(p[1] for p in pts))

    # ---- facts --------------------------------------------------------------

    def facts(self):
        f = {}
        try:
            with open("/proc/cpuinfo") as fh:
                m = re.search(r"model name\s*:\s*(.*)", fh.read())
                f["CPU"] = m.group(1).strip() if m else "?"
        except OSError:
            pass
        f["cores (nproc)"] = str(os.cpu_count())
        try:
            with open("/proc/meminfo") as fh:
                kb = int(re.search(r"MemTotal:\s*(\d+)", fh.read()).group(1))
                f["RAM"] = f"{kb / 1024 / 1024:.1f} GiB"
        except OSError:
            pass
        f["kernel"] = platform.release()
        try:
            with open("/etc/debian_version") as fh:
                f["OS"] = "Debian " + fh.read().strip()
        except OSError:
            pass
        r = subprocess.run(["df", "-T", "-h", self.a.workdir], capture_output=True, text=True)
        if r.returncode == 0 and len(r.stdout.splitlines()) > 1:
            p = r.stdout.splitlines()[1].split()
            f["data directory file system"] = f"{p[1]} on {p[0]} ({p[2]} size, {p[4]} free)"
        f["fdatasync 8 kB (median of 200)"] = self.fsync_latency()
        self.res.info["machine"] = f

    def fsync_latency(self):
        path = os.path.join(self.a.workdir, "fsync_probe")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            buf = os.urandom(8192)
            lat = []
            for i in range(200):
                os.pwrite(fd, buf, (i % 16) * 8192)
                t = time.perf_counter()
                os.fdatasync(fd)
                lat.append(time.perf_counter() - t)
            os.close(fd)
            os.remove(path)
            m = statistics.median(lat)
            return f"{m * 1e3:.3f} ms (~{1 / m:,.0f} syncs/s)"
        except OSError as e:
            return f"? ({e})"

    def pg_facts(self):
        q = self.cl.psql
        self.res.info["postgres"] = {"version": q("SELECT version()")}
        names = ["shared_buffers", "max_wal_size", "checkpoint_timeout", "synchronous_commit",
                 "fsync", "full_page_writes", "wal_level", "wal_compression", "autovacuum",
                 "max_parallel_workers_per_gather", "jit", "work_mem", "effective_cache_size",
                 "max_connections", "default_table_access_method"]
        out = q("SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name IN (%s) "
                "OR name LIKE 'ledger\\_am.%%' ORDER BY name LIKE 'ledger%%', name"
                % ",".join("'%s'" % n for n in names))
        s = {}
        for line in out.splitlines():
            n, v, u = line.split("|")
            s[n] = self.pretty_setting(v, u)
        self.res.info["settings"] = s
        # which build of ledger_am ran
        lib = subprocess.run(["pg_config", "--pkglibdir"], capture_output=True,
                             text=True).stdout.strip() or "/usr/lib/postgresql/15/lib"
        so = os.path.join(lib, "ledger_am.so")
        b = {}
        try:
            b["installed ledger_am.so md5"] = self.so_md5()
            b["installed ledger_am.so mtime"] = datetime.datetime.utcfromtimestamp(
                os.path.getmtime(so)).strftime("%Y-%m-%d %H:%M:%S UTC")
        except OSError:
            pass
        g = subprocess.run(["git", "-C", REPO, "log", "-1", "--format=%h %s"],
                           capture_output=True, text=True)
        if g.returncode == 0:
            b["repo HEAD"] = g.stdout.strip()[:100]
            d = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", "src", "sql",
                                "Makefile"], capture_output=True, text=True).stdout
            b["src/ sql/ changes not committed"] = str(len(d.splitlines())) + " files"
        self.res.info["build"] = b

    @staticmethod
    def so_md5():
        lib = subprocess.run(["pg_config", "--pkglibdir"], capture_output=True,
                             text=True).stdout.strip() or "/usr/lib/postgresql/15/lib"
        try:
            with open(os.path.join(lib, "ledger_am.so"), "rb") as fh:
                return hashlib.md5(fh.read()).hexdigest()
        except OSError:
            return None

    @staticmethod
    def pretty_setting(v, u):
        if u == "8kB":
            mb = int(v) * 8 / 1024
            return f"{mb:g}MB" if mb < 1024 else f"{mb / 1024:g}GB"
        if u == "MB":
            return f"{v}MB" if int(v) < 1024 else f"{int(v) / 1024:g}GB"
        if u == "kB":
            return f"{v}kB" if int(v) < 1024 else f"{int(v) / 1024:g}MB"
        if u == "s":
            return f"{int(v) // 60}min" if int(v) >= 60 and int(v) % 60 == 0 else f"{v}s"
        return v + (u if u else "")

    def server_log_summary(self):
        """Count WARNING/ERROR/FATAL/PANIC lines of the current cluster's log
        (accumulated over every cluster of the run)."""
        path = os.path.join(self.cl.dir, "server.log")
        counts, samples = self.res.info.setdefault("server_log", ({}, []))
        try:
            with open(path, errors="replace") as fh:
                for line in fh:
                    m = re.search(r"\b(PANIC|FATAL|ERROR|WARNING):\s+(.*)", line)
                    if m:
                        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
                        msg = m.group(1) + ": " + m.group(2)[:200]
                        if len(samples) < 15 and msg not in samples:
                            samples.append(msg)
        except OSError:
            pass

    # ---- driver -------------------------------------------------------------

    def plan(self):
        a = self.a
        runs = 0
        if "reads" in a.only:
            runs += 5 * 2 * 2 * a.repeats
        if "write1" in a.only:
            runs += 6 * 2 * a.repeats
        if "write100" in a.only:
            runs += 2 * 2 * a.repeats
        self.pgbench_total = runs
        log(f"plan: {', '.join(a.only)}; COPY scale(s) {', '.join(f'{s:,}' for s in a.scale)}, "
            f"repeats {a.repeats}, {runs} pgbench runs of {a.duration} s, sustained "
            f"{a.sustained:,} rows in chunks of {a.chunk:,}, accounts {a.accounts:,}")

    def run(self):
        a = self.a
        self.plan()
        self.prepare()
        self.facts()
        self.run_mark = self.mon.mark()
        self.mon.start()
        need_load = any(g in a.only for g in ("bytes", "reads", "write1", "write100"))
        loaded = False
        if "copy" in a.only or need_load:
            try:
                self.run_copy(timed="copy" in a.only)
                self.capture_plans()
                loaded = True
            except BenchError as e:
                self.res.error(f"COPY / load: {e}")
                self.res.info.setdefault("server_log_tail", self.cl.server_log_tail())
        for g in ("reads", "write1", "write100", "sustained"):
            if g not in a.only:
                continue
            if g != "sustained" and not loaded:
                self.res.error(f"{g}: skipped (the tables could not be loaded)")
                continue
            try:
                getattr(self, "run_" + g)()
            except BenchError as e:
                self.res.error(f"{g}: {e}")
                self.res.info.setdefault("server_log_tail", self.cl.server_log_tail())

    def capture_plans(self):
        """EXPLAIN of each read query on both tables (the plan shapes go into
        results.md: what the planner picked is part of the result)."""
        d = self.read_defines()
        n, step = d["rows"], d["step"]
        i, acct, day, s = n // 3, max(1, self.a.accounts // 3), d["days30"] // 2, n // 2
        t0 = "'2024-01-01 00:00:00+00'::timestamptz"
        queries = [
            ("point", f"SELECT * FROM @T WHERE event_id = bench_event_id({i}, {step})"),
            ("last50", f"SELECT * FROM @T WHERE debit_account = {acct} OR credit_account = {acct} "
                       f"ORDER BY ts DESC LIMIT 50"),
            ("window30d", f"SELECT * FROM @T WHERE (debit_account = {acct} OR credit_account = "
                          f"{acct}) AND ts >= {t0} + make_interval(days => {day}) AND ts < {t0} + "
                          f"make_interval(days => {day + 30}) ORDER BY ts"),
            ("window10k", f"SELECT count(*), sum(amount) FROM @T WHERE ts >= {t0} + "
                          f"({s * step})::bigint * interval '1 millisecond' AND ts < {t0} + "
                          f"({(s + 10000) * step})::bigint * interval '1 millisecond'"),
            ("scan", "SELECT count(*), sum(amount) FROM @T"),
        ]
        plans = {}
        for name, sql in queries:
            for t in TABLES:
                try:
                    out = self.cl.psql("EXPLAIN (COSTS OFF) " + sql.replace("@T", TNAME[t]))
                except BenchError as e:
                    plans[(name, t)] = f"EXPLAIN failed: {e}"
                    continue
                nodes = []
                for line in out.splitlines():
                    cm = re.match(r"^\s*(?:->\s*)?Custom Scan \((\w+)\)", line)
                    if cm:
                        nodes.append(f"Custom Scan ({cm.group(1)})")
                        continue
                    m = re.match(r"^\s*(?:->\s*)?([A-Z][A-Za-z ]+?)(?: using (\S+))?(?: on \S+)?"
                                 r"(?:\s+\(.*)?$", line)
                    if m and not re.match(r"^\s*(Index Cond|Filter|Recheck Cond|Sort Key|"
                                          r"Workers|Range|Order By|Output|Join Filter|Hash Cond)",
                                          line):
                        nodes.append(m.group(1).strip() + (f" ({m.group(2)})" if m.group(2)
                                                            else ""))
                plans[(name, t)] = " → ".join(nodes)
        self.res.info["plans"] = plans

# --------------------------------------------------------------------------
# summary, CSV, Markdown, charts

# (key prefix or key, metric) -> (bar text, predicate on summary row, bar value, direction)
def bar_for(key, metric):
    if key == "write1_on_c16" and metric == "tps":
        return ("≥ 1.0", lambda s: s["ratio"] >= 1.0, 1.0)
    if key == "write100_c4" and metric == "events/s":
        return ("≥ 1.5 and > 50,000 events/s",
                lambda s: s["ratio"] >= 1.5 and s["ledger_am"]["median"] > 50000, 1.5)
    if key.startswith("copy_") and metric == "events/s":
        return ("≥ 1.5 (at 10M)", lambda s: s["ratio"] >= 1.5, 1.5)
    if re.fullmatch(r"bytes_\d+", key) and metric == "MB":
        return ("≤ 0.4", lambda s: s["ratio"] <= 0.4, 0.4)
    if key in ("sustained_own", "sustained_own_smooth"):
        return ("ledger_am ≥ 0.90 (20M vs 1M)",
                lambda s: s["ledger_am"]["median"] >= 0.9, 0.9)
    if key.startswith("read_point_") and metric == "tps":
        return ("≥ 0.8", lambda s: s["ratio"] >= 0.8, 0.8)
    if key.startswith("read_scan_") and metric == "tps":
        return ("≥ 0.5", lambda s: s["ratio"] >= 0.5, 0.5)
    return None


def summarize(res, args):
    """One summary row per (key, metric), in run order."""
    seen, rows = [], []
    for r in res.raw:
        km = (r["key"], r["metric"])
        if km not in seen:
            seen.append(km)
    for key, metric in seen:
        first = next(r for r in res.raw if r["key"] == key and r["metric"] == metric)
        s = dict(group=first["group"], key=key, label=first["label"], metric=metric,
                 unit=first["unit"])
        for t in TABLES:
            v = res.values(key, metric, t)
            n_all = len([r for r in res.raw if r["key"] == key and r["metric"] == metric
                         and r["table"] == t])
            s[t] = dict(median=statistics.median(v) if v else None,
                        min=min(v) if v else None, max=max(v) if v else None,
                        n=len(v), n_failed=n_all - len(v), values=v)
        hm, lm = s["heap"]["median"], s["ledger_am"]["median"]
        if key.startswith("sustained_own"):
            s["ratio"], s["ratio_kind"] = None, ""
        elif hm and lm:
            if metric == "latency":
                s["ratio"], s["ratio_kind"] = hm / lm, "heap/ledger_am"
            else:
                s["ratio"], s["ratio_kind"] = lm / hm, "ledger_am/heap"
        else:
            s["ratio"], s["ratio_kind"] = None, ""
        b = bar_for(key, metric)
        s["bar"], s["pass"], s["bar_value"] = "", None, None
        if b:
            s["bar"], s["bar_value"] = b[0], b[2]
            try:
                if key.startswith("sustained_own"):
                    s["pass"] = b[1](s) if lm is not None else None
                else:
                    s["pass"] = b[1](s) if s["ratio"] is not None else False
            except TypeError:
                s["pass"] = None
            s["bar_scaled"] = bar_is_scaled(key, args, res)
        rows.append(s)
    return rows


def bar_is_scaled(key, args, res):
    """True when the bar was measured at a smaller size than the one it is defined at."""
    if key.startswith("copy_"):
        return int(key.split("_")[1]) != 10_000_000
    if key.startswith("sustained_own"):
        ref = res.info.get("sustained_ref", {}).get("ledger_am")
        return not ref or ref[1][0] < 20_000_000 or ref[0][0] != 1_000_000
    return False


def cell(d, unit):
    if d["median"] is None:
        return "FAILED" if d["n_failed"] else "—"
    if d["n"] == 1:
        return fmt_num(d["median"], unit)
    return f"{fmt_num(d['median'], unit)} ({fmt_num(d['min'], unit)}–{fmt_num(d['max'], unit)})"


def verdict(s):
    if s["pass"] is None:
        return "" if not s["bar"] else "n/a"
    v = "pass" if s["pass"] else "**FAIL**"
    return v + ("\\*" if s.get("bar_scaled") else "")


SECTION = {"copy": "3", "bytes": "4", "reads": "5", "write1": "1", "write100": "2",
           "sustained": "6"}


def md_tables(rows):
    main = [s for s in rows if s["metric"] != "latency" and not s["key"].startswith("vacuum")
            and not (s["group"] == "write100" and s["metric"] == "tps")]
    order = {"write1": 1, "write100": 2, "copy": 3, "bytes": 4, "reads": 5, "sustained": 6}
    main.sort(key=lambda s: order[s["group"]])
    out = ["| # | workload | metric | heap: median (min–max) | ledger_am: median (min–max) "
           "| ratio | bar | verdict |",
           "|---|---|---|---|---|---|---|---|"]
    for s in main:
        unit = s["unit"]
        metric = {"tx/s": "tx/s", "events/s": "events/s", "MB": "MB", "x": "ratio"}[unit] \
            if unit in ("tx/s", "events/s", "MB", "x") else unit
        ratio = fmt_num(s["ratio"], "x") if s["ratio"] is not None else "—"
        out.append(f"| {SECTION[s['group']]} | {s['label']} | {metric} | {cell(s['heap'], unit)} "
                   f"| {cell(s['ledger_am'], unit)} | {ratio} | {s['bar']} | {verdict(s)} |")
    lat = [s for s in rows if s["metric"] == "latency"]
    lat.sort(key=lambda s: order[s["group"]])
    out2 = ["| # | workload | heap: median (min–max) | ledger_am: median (min–max) "
            "| heap/ledger_am |", "|---|---|---|---|---|"]
    for s in lat:
        ratio = fmt_num(s["ratio"], "x") if s["ratio"] is not None else "—"
        out2.append(f"| {SECTION[s['group']]} | {s['label']} | {cell(s['heap'], 'ms')} | "
                    f"{cell(s['ledger_am'], 'ms')} | {ratio} |")
    return "\n".join(out), "\n".join(out2) if lat else ""


def write_outputs(bench, rows, out_dir, status, wall):
    a, res = bench.a, bench.res
    os.makedirs(out_dir, exist_ok=True)
    # raw.csv: every measurement
    with open(os.path.join(out_dir, "raw.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "key", "workload", "metric", "unit", "table", "repeat", "value",
                    "other_processes_cpu_pct"])
        for r in res.raw:
            w.writerow([r["group"], r["key"], r["label"], r["metric"], r["unit"], r["table"],
                        r["rep"], "" if r["value"] is None else f"{r['value']:.6g}",
                        "" if r.get("foreign") is None else f"{r['foreign']:.1f}"])
        for t in TABLES:
            for i, (n, eps, fp) in enumerate(res.sustained[t]):
                w.writerow(["sustained", "sustained_chunk", f"chunk {i + 1} (repeat = rows after)",
                            "events/s", "events/s", t, n, f"{eps:.6g}", f"{fp:.1f}"])
    # results.csv: one row per workload and metric
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "key", "workload", "metric", "unit",
                    "heap_median", "heap_min", "heap_max", "heap_n",
                    "ledger_am_median", "ledger_am_min", "ledger_am_max", "ledger_am_n",
                    "ratio", "ratio_kind", "bar", "pass", "bar_at_smaller_scale"])
        g = lambda v: "" if v is None else f"{v:.6g}"
        for s in rows:
            w.writerow([SECTION[s["group"]], s["key"], s["label"], s["metric"], s["unit"],
                        g(s["heap"]["median"]), g(s["heap"]["min"]), g(s["heap"]["max"]),
                        s["heap"]["n"],
                        g(s["ledger_am"]["median"]), g(s["ledger_am"]["min"]),
                        g(s["ledger_am"]["max"]), s["ledger_am"]["n"],
                        g(s["ratio"]), s["ratio_kind"], s["bar"],
                        "" if s["pass"] is None else ("yes" if s["pass"] else "no"),
                        "yes" if s.get("bar_scaled") else ""])
    main, lat = md_tables(rows)
    charts = make_charts(bench, rows, out_dir)
    md = []
    now = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    md.append("# ledger_am vs heap: benchmark results\n")
    md.append(f"{now}; `bench/run {' '.join(a.argv)}` ({'quick mode' if a.quick else 'full mode'}"
              f"); wall time {wall / 60:.1f} min; status: **{status}**.\n")
    md.append(f"Groups run: {', '.join(a.only)}. COPY scale(s): "
              f"{', '.join(f'{s:,}' for s in a.scale)} events; repeats: {a.repeats} "
              f"(ABBA order: heap first on odd repeats, ledger_am first on even ones); pgbench "
              f"runs: {a.duration} s each, `-M prepared`, `-j min(2, clients)`; reads and "
              f"writes on the tables holding the last load ({bench.loaded_rows:,} events); "
              f"sustained ingest: {a.sustained:,} rows per table in COPY chunks of "
              f"{a.chunk:,} (once per table, alternating chunks); accounts: {a.accounts:,}.\n")
    md.append("Ratio convention: **ratio > 1 means ledger_am is better** for throughput "
              "(ledger_am/heap of the medians) and for latency (heap/ledger_am); for bytes on "
              "disk the ratio is ledger_am/heap, so **< 1 means ledger_am is smaller**. "
              "Cells: median (min–max) over the repeats. A verdict marked \\* was measured "
              "at a smaller size than the bar is defined at (COPY bar: 10M events; sustained "
              "bar: 20M vs 1M rows), so it only indicates.\n")
    md.append("## Results\n")
    md.append(main + "\n")
    if lat:
        md.append("## Latency (average per transaction, ms)\n")
        md.append(lat + "\n")
    for n, b in sorted(res.bytes.items()):
        mb = lambda x: f"{x / 1e6:,.1f} MB" if x is not None else "?"
        fb, fa = b["files_before"], b["files_after"]
        md.append(f"## Bytes on disk (4), {n:,} events\n")
        md.append("Measured right after the load, in a cluster where nothing else was ever "
                  "written (VACUUM ANALYZE done). heap = `pg_total_relation_size` (table + "
                  "TOAST + FSM/VM + indexes). ledger_am = the RocksDB instance's SST files "
                  "after `ledger_am.compact` (the instance holds only this table: rows and "
                  "range keys) + `pg_indexes_size`. `ledger_am.table_size` is shown too: it "
                  "counts only the row keys, not the range keys of a `ledger_range` "
                  "declaration, and `ledger_am.compact` compacts only the row keys. RocksDB's "
                  "WAL is left out, as pg_wal is for heap. `pg_relation_size` of a ledger_am "
                  "table is not used (sparse virtual segment files).\n")
        md.append("| | heap | ledger_am |\n|---|---|---|")
        md.append(f"| table data | {mb(b['heap_main'])} (main fork) | SST files "
                  f"{mb(fb[0])} (+ WAL {mb(fb[1])}) before / {mb(fa[0])} after `ledger_am.compact` "
                  f"({b['compact_s']:.1f} s); `table_size` {mb(b['ledger_before'])} / "
                  f"{mb(b['ledger_after'])} |")
        md.append(f"| TOAST | {mb(b['heap_toast'])} | (inline in RocksDB) |")
        md.append(f"| FSM + VM | {mb(b['heap_table'] - b['heap_main'] - b['heap_toast'])} | — |")
        md.append(f"| indexes (`pg_indexes_size`) | {mb(b['heap_indexes'])} | "
                  f"{mb(b['ledger_indexes'])} |")
        md.append(f"| **total** | **{mb(b['heap_total'])}** | **{mb(fa[0] + b['ledger_indexes'])}**"
                  f" (before compaction: {mb(fb[0] + fb[1] + b['ledger_indexes'])} with the "
                  f"WAL that still held the unflushed memtable) |")
        md.append(f"| bytes per event | {b['heap_total'] / n:,.0f} | "
                  f"{(fa[0] + b['ledger_indexes']) / n:,.0f} |")
        md.append(f"| not counted | pg_wal | RocksDB WAL {mb(fa[1])}, MANIFEST/LOG/OPTIONS "
                  f"{mb(fa[2])} |\n")
    vac = [s for s in rows if s["key"].startswith("vacuum_")]
    for s in vac:
        md.append(f"{s['label']}: heap {fmt_num(s['heap']['median'], 's')} s, "
                  f"ledger_am {fmt_num(s['ledger_am']['median'], 's')} s.\n")
    if any(res.sustained.values()):
        md.append("## Sustained ingest (6)\n")
        md.append(f"COPY FROM of {a.chunk:,}-event chunks into fresh tables until "
                  f"{a.sustained:,} rows each; heap and ledger_am alternate chunk by chunk. "
                  "Events/s per chunk, by table size after the chunk:\n")
        md.append("| rows after chunk | heap events/s | ledger_am events/s | ratio "
                  "| other processes' CPU (heap / ledger_am chunk) |")
        md.append("|---|---|---|---|---|")
        hs = {p[0]: p for p in res.sustained["heap"]}
        ls = {p[0]: p for p in res.sustained["ledger_am"]}
        for n in sorted(set(hs) | set(ls)):
            h, l = hs.get(n), ls.get(n)
            md.append(f"| {n:,} | {fmt_num(h[1]) if h else '—'} | {fmt_num(l[1]) if l else '—'} | "
                      f"{fmt_num(l[1] / h[1], 'x') if h and l else '—'} | "
                      f"{f'{h[2]:.0f}%' if h else '—'} / {f'{l[2]:.0f}%' if l else '—'} |")
        md.append("")
    if charts:
        md.append("## Charts\n")
        for c in charts:
            md.append(f"![{c}]({c})\n")
    fc = res.info.get("foreign_cpu")
    if fc:
        md.append("## Other load on the machine\n")
        md.append(f"Processes that are not this benchmark (neither its clients nor its "
                  f"cluster) used **{fc['avg']:.0f}%** of the machine's {os.cpu_count()} cores "
                  f"on average over the run (load average {fc['load_start']} at the start, "
                  f"{fc['load_end']} at the end). Per measurement: median {fc['median']:.0f}%, "
                  f"max {fc['max']:.0f}%; {fc['n_over']} of {fc['n']} measurements ran with "
                  f"more than 10% (column `other_processes_cpu_pct` of raw.csv). "
                  + ("Top other commands by CPU seconds: " + ", ".join(
                      f"{c} {v:.0f}s" for c, v in fc["top"]) + ". " if fc["top"] else "")
                  + ("**The numbers of this run are skewed by that load.**" if fc["avg"] >= 5
                     else "Low enough not to matter much.") + "\n")
    md.append("## Machine\n")
    for k, v in res.info.get("machine", {}).items():
        md.append(f"- {k}: {v}")
    for k, v in res.info.get("postgres", {}).items():
        md.append(f"- PostgreSQL: {v}")
    for k, v in res.info.get("build", {}).items():
        md.append(f"- {k}: {v}")
    md.append("\n## Settings (same for both tables)\n")
    md.append(", ".join(f"`{k} = {v}`" for k, v in res.info.get("settings", {}).items()) + ".")
    md.append("\n`synchronous_commit` is set per workload with `PGOPTIONS` (on unless the row "
              "says off). The cluster is throwaway (initdb per run, `autovacuum = off`, "
              "explicit `VACUUM ANALYZE` after the load, `CHECKPOINT` before every timed COPY "
              "and before each write configuration; before the reads, every file of both "
              "tables is read once into the OS page cache).\n")
    sch = res.info.get("schema")
    if sch:
        md.append("## Schema\n")
        md.append("`events_ledger` from `ledger_am.create_events_table('events_ledger')`; "
                  "`events_heap` as `CREATE TABLE events_heap (LIKE events_ledger INCLUDING ALL "
                  "EXCLUDING INDEXES) USING heap` plus the ledger table's PRIMARY KEY and UNIQUE "
                  "constraints; btree secondary indexes on `(debit_account, ts)`, "
                  f"`(credit_account, ts)`, `(ts)`: on heap always, on ledger_am per "
                  f"`--ledger-indexes {a.ledger_indexes}`. Indexes as created (read back from "
                  "the catalog):\n")
        md.append(f"- heap: {sch['heap']}")
        md.append(f"- ledger_am: {sch['ledger_am']}\n")
    plans = res.info.get("plans")
    if plans:
        md.append("## Plans of the read queries\n")
        md.append("`EXPLAIN (COSTS OFF)` with sample parameters, on the loaded tables "
                  "(plan nodes, outermost first):\n")
        md.append("| query | heap | ledger_am |\n|---|---|---|")
        for name in ("point", "last50", "window30d", "window10k", "scan"):
            md.append(f"| {name} | {plans.get((name, 'heap'), '?')} | "
                      f"{plans.get((name, 'ledger_am'), '?')} |")
        md.append("")
    sl = res.info.get("server_log")
    if sl:
        counts, samples = sl
        md.append("## Server log\n")
        if counts:
            md.append("Counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ".\n")
            md.append("```\n" + "\n".join(samples) + "\n```\n")
        else:
            md.append("No WARNING, ERROR, FATAL or PANIC lines.\n")
    if res.errors:
        md.append("## Errors during the run\n")
        for e in res.errors:
            md.append(f"- {e}")
        tail = res.info.get("server_log_tail")
        if tail:
            md.append("\nServer log tail:\n\n```\n" + tail + "```\n")
    text = "\n".join(md) + "\n"
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    return main, lat


def make_charts(bench, rows, out_dir):
    if bench.a.no_charts:
        return []
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not available (apt-get install python3-matplotlib): no charts")
        return []
    made = []
    res = bench.res
    if any(res.sustained.values()):
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        for t, color in (("heap", "#1f77b4"), ("ledger_am", "#d62728")):
            pts = res.sustained[t]
            if pts:
                ax.plot([p[0] / 1e6 for p in pts], [p[1] for p in pts], marker="o",
                        markersize=3, color=color, label=t)
        ax.set_xlabel("table size after the chunk (million events)")
        ax.set_ylabel("events/s (COPY of one chunk)")
        ax.set_title(f"(6) sustained ingest: {bench.a.chunk:,}-event COPY chunks up to "
                     f"{bench.a.sustained:,} rows")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "sustained.png"))
        plt.close(fig)
        made.append("sustained.png")
    pts = [s for s in rows if s["ratio"] is not None and not s["key"].startswith("vacuum")
           and not s["key"].endswith(("_before", "_tablesize"))]
    for s in rows:
        if s["key"].startswith("sustained_own") and s["ledger_am"]["median"] is not None:
            pts.append(dict(s, ratio=s["ledger_am"]["median"],
                            label=s["label"].replace("sustained: own rate",
                                                     "sustained, ledger_am's own rate")))
    if pts:
        order = {"write1": 1, "write100": 2, "copy": 3, "bytes": 4, "reads": 5, "sustained": 6}
        pts.sort(key=lambda s: (order[s["group"]], s["metric"] == "latency"))
        pts = [s for s in pts if s["metric"] != "latency"
               and not (s["group"] == "write100" and s["metric"] == "tps")]
        fig, ax = plt.subplots(figsize=(11, 0.32 * len(pts) + 1.8), dpi=100)
        ys = list(range(len(pts)))[::-1]
        colors = []
        for s in pts:
            if s["pass"] is True:
                colors.append("#2ca02c")
            elif s["pass"] is False:
                colors.append("#d62728")
            else:
                colors.append("#7f7f7f")
        vals = [s["ratio"] for s in pts]
        ax.barh(ys, vals, color=colors, height=0.65)
        for y, s in zip(ys, pts):
            if s["bar_value"]:
                ax.plot([s["bar_value"]] * 2, [y - 0.4, y + 0.4], color="black", lw=2)
            ax.text(s["ratio"] * 1.03, y, f"{s['ratio']:.2f}", va="center", fontsize=7)
        ax.axvline(1.0, color="black", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(ys)
        ax.set_yticklabels([f"({SECTION[s['group']]}) {s['label']}" +
                            (" [lower = better]" if s["unit"] == "MB" else "") for s in pts],
                           fontsize=7)
        ax.set_xlabel("ledger_am / heap (log scale): > 1 = ledger_am faster; bytes: < 1 = "
                      "ledger_am smaller\nblack tick = bar; green = meets it, red = misses it, "
                      "grey = no bar")
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.label.set_size(7)
        ax.set_title("ledger_am / heap, medians of the same run", fontsize=9)
        lo = min(vals + [0.5]) / 1.5
        hi = max(vals + [2.0]) * 1.6
        ax.set_xlim(lo, hi)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "ratios.png"))
        plt.close(fig)
        made.append("ratios.png")
    return made


# --------------------------------------------------------------------------
# main


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small sizes and 2 s runs: the whole run takes under 5 minutes")
    p.add_argument("--scale", help="COPY sizes, comma-separated (default 1000000,10000000; "
                   "quick 100000). Reads, writes and bytes use the tables left by the last one")
    p.add_argument("--sustained", type=int, help="rows per table for sustained ingest "
                   "(default 20000000; quick 400000)")
    p.add_argument("--chunk", type=int, help="rows per sustained-ingest COPY chunk "
                   "(default 1000000; quick 50000)")
    p.add_argument("--repeats", type=int, help="repeats per workload and table (default 2)")
    p.add_argument("--duration", type=int, help="seconds per pgbench run (default 20; quick 2)")
    p.add_argument("--accounts", type=int, help="accounts (default: largest scale / 1200, at "
                   "least 100, so a 30-day account window holds ~200 events, as issue 4 "
                   "defines it)")
    p.add_argument("--only", help="comma-separated subset of: " + ",".join(GROUPS) +
                   " (default: all). bytes, reads and writes load the largest scale first "
                   "(timed only when copy is listed)")
    p.add_argument("--ledger-indexes", choices=["btree", "range", "btree-only"], default="btree",
                   help="secondary access paths of the ledger_am table. btree (default): the "
                   "same three btree indexes as heap, plus the ledger_range declaration "
                   "that ledger_am.create_events_table adds; range: only the ledger_range "
                   "declaration (no btree secondaries on ledger_am); btree-only: the btrees, "
                   "the ledger_range declaration dropped. heap always has the three btrees")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="extra postgresql.conf setting (repeatable), e.g. "
                   "ledger_am.write_buffer_mb=128")
    p.add_argument("--port", type=int, default=54361)
    p.add_argument("--workdir", default="/tmp/ledger_bench",
                   help="throwaway directory for the cluster and generated data")
    p.add_argument("--out", default=os.path.join(BENCH, "results"))
    p.add_argument("--keep", action="store_true",
                   help="keep the cluster running and the generated files at the end")
    p.add_argument("--no-charts", action="store_true")
    a = p.parse_args(argv)
    a.argv = argv
    q = a.quick
    a.scale = [int(x.replace("_", "")) for x in a.scale.split(",")] if a.scale else \
        ([100_000] if q else [1_000_000, 10_000_000])
    a.scale.sort()
    a.sustained = a.sustained or (400_000 if q else 20_000_000)
    a.chunk = a.chunk or (50_000 if q else 1_000_000)
    a.repeats = a.repeats or 2
    a.duration = a.duration or (2 if q else 20)
    # Every event is on two accounts' sides, and loads span 365 days: an
    # account's 30-day window holds 2 * rows / accounts * 30 / 365 events,
    # ~200 (issue 4's "30-day window of ~200 events") with rows / 1200.
    a.accounts = a.accounts or max(100, max(a.scale) // 1200)
    a.only = [g.strip() for g in a.only.split(",")] if a.only else list(GROUPS)
    bad = [g for g in a.only if g not in GROUPS]
    if bad:
        p.error(f"unknown group(s) {bad}; choose from {GROUPS}")
    if min(a.scale) < 10_000:
        p.error("--scale must be at least 10000 (the time-window read needs 10,000 events)")
    if a.repeats < 1 or a.duration < 1 or a.chunk < 1 or a.sustained < a.chunk:
        p.error("--repeats, --duration, --chunk must be positive and --sustained >= --chunk")
    for s in a.set:
        if "=" not in s:
            p.error(f"--set {s}: expected NAME=VALUE")
    return a


def main():
    args = parse_args(sys.argv[1:])
    bench = Bench(args)
    status = "complete"
    rc = 0

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        bench.run()
    except KeyboardInterrupt:
        status = "interrupted"
        rc = 130
        log("interrupted: stopping the cluster")
    except BenchError as e:
        status = "failed"
        rc = 1
        bench.res.error(str(e))
        bench.res.info.setdefault("server_log_tail", bench.cl.server_log_tail())
    finally:
        if bench.cl.started or os.path.exists(bench.cl.dir):
            bench.server_log_summary()
            if not args.keep:
                cluster_fn("cluster_stop", bench.cl.dir, "fast", check=False, capture=True)
                cluster_fn("cluster_remove", bench.cl.dir, check=False, capture=True)
                shutil.rmtree(bench.datadir, ignore_errors=True)
                shutil.rmtree(bench.workfiles, ignore_errors=True)
                log("cluster stopped and removed")
            else:
                log(f"--keep: cluster still running in {bench.cl.dir}")
    if bench.res.errors and status == "complete":
        status = f"complete with {len(bench.res.errors)} error(s)"
        rc = 1
    if bench.mon.is_alive():
        bench.mon.stop.set()
        per = [r["foreign"] for r in bench.res.raw if r.get("foreign") is not None
               and r["metric"] in ("tps", "events/s")] + \
            [p[2] for t in TABLES for p in bench.res.sustained[t]]
        bench.res.info["foreign_cpu"] = dict(
            avg=bench.mon.pct_since(bench.run_mark),
            median=statistics.median(per) if per else 0.0, max=max(per) if per else 0.0,
            n=len(per), n_over=len([x for x in per if x > 10]),
            load_start=bench.load_start, load_end=open("/proc/loadavg").read().split()[0],
            top=sorted(bench.mon.top.items(), key=lambda x: -x[1])[:5])
    if bench.res.raw or any(bench.res.sustained.values()):
        rows = summarize(bench.res, args)
        out = args.out
        if status == "interrupted":
            # keep the last complete results; the partial ones go next to the cluster
            out = os.path.join(args.workdir, "results-interrupted")
        main_t, lat_t = write_outputs(bench, rows, out, status, time.monotonic() - T0)
        print()
        print(main_t)
        print()
        if lat_t:
            print("Latency (average ms; ratio heap/ledger_am, > 1 = ledger_am better):")
            print(lat_t)
            print()
        print("Ratio: ledger_am/heap of medians for throughput (> 1 = ledger_am better), "
              "ledger_am/heap for bytes (< 1 = smaller).")
        fc = bench.res.info.get("foreign_cpu")
        if fc:
            print(f"Other processes used {fc['avg']:.0f}% of the CPU during the run "
                  f"(max {fc['max']:.0f}% during one measurement)" +
                  (": numbers skewed by other load." if fc["avg"] >= 5 else "."))
        print(f"Written: {os.path.abspath(out)}/results.md, results.csv, raw.csv, "
              f"sustained.png, ratios.png")
    log(f"done: {status}")
    sys.exit(rc)


if __name__ == "__main__":
    main()
