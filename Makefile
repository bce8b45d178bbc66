# ledger_am: PGXS build of the extension (C++17) plus the project's test and
# demo entry points. See README.md.

MODULE_big = ledger_am
EXTENSION = ledger_am
DATA = sql/ledger_am--0.1.0.sql
PGFILEDESC = "ledger_am - append-only table access method on RocksDB"

OBJS = \
	src/module.o \
	src/backend/channel_client.o \
	src/backend/visibility.o \
	src/backend/row_form.o \
	src/backend/tableam.o \
	src/backend/xact_hooks.o \
	src/backend/mutation_guard.o \
	src/backend/publication_guard.o \
	src/backend/digest.o \
	src/backend/sql_functions.o \
	src/backend/range_decl.o \
	src/backend/range_index.o \
	src/backend/range_scan.o \
	src/worker/storage_worker.o \
	src/worker/rows_wal.o \
	src/worker/sync_thread.o \
	src/worker/read_pool.o \
	src/worker/rocks_logger.o \
	src/worker/row_dictionary.o \
	src/worker/wal_files.o \
	src/worker/engine.o

# pg_regress suites, listed explicitly (test/check_schedules.sh fails on a
# file under sql/ that is not listed here).
REGRESS = basic append_only transactions copy_dump indexes functions robustness range_scans bad_input publications
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=$(srcdir)/test/ledger_am.conf \
	--port=55432 --load-extension=ledger_am

ISOLATION = visibility repeatable_read savepoint unique_race range_snapshot serializable long_scan ddl_concurrency carried_row_ids digest_settled speculative_withdrawal create_index_concurrently
ISOLATION_OPTS = --temp-instance=tmp_check_iso --temp-config=$(srcdir)/test/ledger_am.conf \
	--port=55433 --inputdir=test --outputdir=output_iso --load-extension=ledger_am

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CXXFLAGS = -std=c++17 -Wno-register -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -fno-omit-frame-pointer
SHLIB_LINK = -lrocksdb -lzstd -lstdc++ -lpthread

EXTRA_CLEAN = tmp_check tmp_check_iso output_iso results regression.diffs \
	regression.out build

# Debian's server is built with LLVM; we ship no bitcode for the JIT.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every object depends on every project header (small project; keeps rebuilds correct).
HEADERS = $(wildcard $(srcdir)/src/*/*.h)
$(OBJS): $(HEADERS)

.PHONY: unit demo test bench
# unit: GoogleTest suites for the pure C++ layers, built outside Postgres.
unit:
	cmake -S test/unit -B build/unit -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/unit -j2
	cd build/unit && ctest --output-on-failure

# demo: command 1 of the README.
demo:
	bash scripts/demo.sh

# test: command 2 of the README: every suite, ending "N passed, N failed".
test:
	bash scripts/test-all.sh
