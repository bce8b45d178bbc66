/*
 * gen_events.c: deterministic generator of ledger events as CSV, for
 * `COPY events (...) FROM '<file>' WITH (FORMAT csv)`.
 *
 *   gen_events FIRST COUNT [ACCOUNTS [STEP_MS]] > events.csv
 *
 * Writes events FIRST .. FIRST+COUNT-1 (event number i). Every field is a pure
 * function of i, ACCOUNTS (default 100000) and STEP_MS (default 1000), so
 * chunks generated separately never collide on the primary key or on
 * (aggregate_id, aggregate_version), and the SQL function
 * bench_event_id(i, step_ms) (bench/harness.py creates it) recomputes the
 * event_id of event i for point lookups:
 *
 *   event_id          UUIDv7 layout: 48-bit ms timestamp (2024-01-01 +
 *                     i * STEP_MS), version 7, rand_a 0, variant 8, 60 bits = i
 *   ts                2024-01-01 00:00:00 UTC + i * STEP_MS ms + a jitter below
 *                     min(STEP_MS, 1000) ms (strictly increasing)
 *   debit_account     1 + (i % ACCOUNTS) * P % ACCOUNTS (P coprime to ACCOUNTS)
 *   aggregate_id      a0000000-0000-4000-8000-<debit_account as 12 hex>
 *   aggregate_version 1 + i / ACCOUNTS (each account appears once per round)
 *   credit_account    pseudo-random other account
 *   the rest          pseudo-random from a hash of i: event type mix, amount,
 *                     currency, a payload and a metadata jsonb (correlation /
 *                     causation ids, user, source, ip, user agent, tags, ...)
 *
 * Rows are ~710 bytes as stored in a heap tuple (~780 bytes of CSV):
 * random UUIDs and ids do not compress, the JSON keys and vocabularies do, as
 * in real ledgers.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0_MS INT64_C(1704067200000) /* 2024-01-01 00:00:00 UTC */

static uint64_t
mix(uint64_t x)
{
	/* splitmix64 finaliser */
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static const char *const kTypes[] = {
	"FundsTransferred", "FundsTransferred", "FundsTransferred", "FundsTransferred",
	"FundsTransferred", "FundsTransferred", "FundsTransferred", "FundsTransferred",
	"FundsDeposited", "FundsDeposited", "FundsDeposited", "FundsDeposited", "FundsDeposited",
	"FundsWithdrawn", "FundsWithdrawn", "FundsWithdrawn",
	"FeeCharged", "FeeCharged", "PaymentRefunded", "BalanceAdjusted",
};
static const char *const kCurrencies[] = {"EUR", "EUR", "EUR", "EUR", "EUR",
										  "USD", "USD", "USD", "GBP", "CHF"};
static const char *const kChannels[] = {"sepa_credit", "sepa_instant", "card", "wire",
										"internal", "direct_debit", "ach", "swift"};
static const char *const kSources[] = {"payments-api", "mobile-app", "web-banking",
									   "batch-settlement", "card-processor", "backoffice"};
static const char *const kAgents[] = {
	"Mobile/17.2 (iPhone)", "Chrome/120.0 (Windows)", "okhttp/4.12.0",
	"LedgerBatch/2.7.1", "python-requests/2.31", "Safari/17.2 (Mac)",
};
static const char *const kWords[] = {
	"invoice", "salary", "rent", "groceries", "subscription", "refund", "transfer",
	"savings", "utilities", "insurance", "dividend", "loan", "repayment", "fees",
	"travel", "equipment", "consulting", "licence", "marketing", "payroll",
	"deposit", "withdrawal", "settlement", "chargeback", "interest", "tax",
	"order", "shipment", "services", "maintenance", "hosting", "support",
};
static const char *const kNames[] = {
	"Acme Trading GmbH", "Northwind Logistics Ltd", "Globex Corporation", "Initech SARL",
	"Umbrella Health AG", "Stark Industrial BV", "Wayne Capital LLC", "Hooli Europe SA",
	"Vandelay Imports Inc", "Soylent Foods Oy", "Cyberdyne Systems AB", "Tyrell Leasing SpA",
	"Wonka Confectionery KG", "Pied Piper Software", "Gekko & Co Partners", "Oceanic Air Charter",
};
static const char *const kTags[] = {"recurring", "priority", "reviewed", "auto-matched",
									"cross-border", "b2b", "retail", "flagged-none",
									"reconciled", "instant"};
static const char *const kIbanCc[] = {"DE", "FR", "NL", "ES", "IT", "BE", "AT", "FI"};
static const char *const kHex = "0123456789abcdef";

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* put_uuid writes 36 chars of a uuid made of hi/lo. */
static char *
put_uuid(char *p, uint64_t hi, uint64_t lo)
{
	for (int k = 0; k < 32; k++)
	{
		uint64_t w = k < 16 ? hi : lo;
		int shift = 60 - 4 * (k % 16);
		if (k == 8 || k == 12 || k == 16 || k == 20)
			*p++ = '-';
		*p++ = kHex[(w >> shift) & 0xf];
	}
	return p;
}

static char *
put_hex(char *p, uint64_t v, int digits)
{
	for (int k = digits - 1; k >= 0; k--)
		*p++ = kHex[(v >> (4 * k)) & 0xf];
	return p;
}

static char *
put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static char *
put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *
put_u64w(char *p, uint64_t v, int width)
{
	for (int k = width - 1; k >= 0; k--)
	{
		p[k] = (char) ('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* put_date writes YYYY-MM-DD of the UTC day containing epoch second s. */
static char *
put_date(char *p, int64_t s)
{
	time_t t = (time_t) s;
	struct tm tm;
	gmtime_r(&t, &tm);
	p = put_u64w(p, (uint64_t) tm.tm_year + 1900, 4);
	*p++ = '-';
	p = put_u64w(p, (uint64_t) tm.tm_mon + 1, 2);
	*p++ = '-';
	return put_u64w(p, (uint64_t) tm.tm_mday, 2);
}

/* Inside a CSV quoted field a JSON double quote is written twice. */
#define Q "\"\""

int
main(int argc, char **argv)
{
	if (argc < 3)
	{
		fprintf(stderr, "usage: %s FIRST COUNT [ACCOUNTS [STEP_MS]] > events.csv\n", argv[0]);
		return 2;
	}
	uint64_t first = strtoull(argv[1], NULL, 10);
	uint64_t count = strtoull(argv[2], NULL, 10);
	uint64_t accounts = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
	uint64_t step_ms = argc > 4 ? strtoull(argv[4], NULL, 10) : 1000;
	if (accounts < 2 || step_ms < 1)
	{
		fprintf(stderr, "gen_events: ACCOUNTS must be at least 2, STEP_MS at least 1\n");
		return 2;
	}
	uint64_t jitter = step_ms < 1000 ? step_ms : 1000;
	/* a multiplier coprime to accounts shuffles the account order per round */
	uint64_t perm = 7919;
	for (;;)
	{
		uint64_t a = perm, b = accounts;
		while (b)
		{
			uint64_t t = a % b;
			a = b;
			b = t;
		}
		if (a == 1)
			break;
		perm += 2;
	}

	static char out[1 << 20];
	size_t used = 0;
	char line[4096];
	/* cache of the date strings: recompute only when the day changes */
	int64_t day_cached = -1;
	char date0[16], date1[16];

	for (uint64_t i = first; i < first + count; i++)
	{
		uint64_t h1 = mix(i * 4 + 1), h2 = mix(i * 4 + 2), h3 = mix(i * 4 + 3),
				 h4 = mix(i * 4 + 4), h5 = mix(h1 ^ h4), h6 = mix(h2 ^ h3);
		uint64_t id_ms = (uint64_t) T0_MS + i * step_ms;
		uint64_t ts_ms = id_ms + h1 % jitter;
		int64_t sec = (int64_t) (ts_ms / 1000);
		uint64_t debit = 1 + ((i % accounts) * perm) % accounts;
		uint64_t credit = 1 + h2 % accounts;
		if (credit == debit)
			credit = credit % accounts + 1;
		uint64_t version = 1 + i / accounts;
		uint64_t cents = (h3 >> 20) % 2000000; /* 0.00 .. 19999.99 */
		if ((h3 & 7) == 0)
			cents *= 25; /* a tail of large amounts */
		const char *type = kTypes[h4 % N(kTypes)];
		const char *cur = kCurrencies[(h4 >> 8) % N(kCurrencies)];
		if (sec / 86400 != day_cached)
		{
			day_cached = sec / 86400;
			*put_date(date0, sec) = '\0';
			*put_date(date1, sec + 86400) = '\0';
		}

		char *p = line;
		/* event_id */
		p = put_uuid(p, (id_ms << 16) | UINT64_C(0x7000), (UINT64_C(0x8) << 60) | i);
		*p++ = ',';
		p = put_str(p, type);
		*p++ = ',';
		/* aggregate_id, aggregate_version */
		p = put_str(p, "a0000000-0000-4000-8000-");
		p = put_hex(p, debit, 12);
		*p++ = ',';
		p = put_u64(p, version);
		*p++ = ',';
		/* ts: YYYY-MM-DD HH:MM:SS.mmm+00 */
		{
			time_t t = (time_t) (ts_ms / 1000);
			struct tm tm;
			gmtime_r(&t, &tm);
			p = put_str(p, date0);
			*p++ = ' ';
			p = put_u64w(p, (uint64_t) tm.tm_hour, 2);
			*p++ = ':';
			p = put_u64w(p, (uint64_t) tm.tm_min, 2);
			*p++ = ':';
			p = put_u64w(p, (uint64_t) tm.tm_sec, 2);
			*p++ = '.';
			p = put_u64w(p, ts_ms % 1000, 3);
			p = put_str(p, "+00,");
		}
		p = put_u64(p, debit);
		*p++ = ',';
		p = put_u64(p, credit);
		*p++ = ',';
		/* tx_id: random v4 */
		p = put_uuid(p, (h5 & ~UINT64_C(0xF000)) | UINT64_C(0x4000),
					 (h6 & ~(UINT64_C(0x3) << 62)) | (UINT64_C(0x2) << 62));
		*p++ = ',';
		p = put_u64(p, cents / 100);
		*p++ = '.';
		p = put_u64w(p, cents % 100, 2);
		*p++ = ',';
		p = put_str(p, cur);

		/* payload */
		p = put_str(p, ",\"{" Q "description" Q ": " Q);
		p = put_str(p, kWords[h5 % N(kWords)]);
		*p++ = ' ';
		p = put_str(p, kWords[(h5 >> 5) % N(kWords)]);
		p = put_str(p, Q ", " Q "reference" Q ": " Q "INV-");
		memcpy(p, date0, 4);
		p += 4;
		*p++ = '-';
		p = put_u64w(p, (h6 >> 7) % 10000000, 7);
		p = put_str(p, Q ", " Q "channel" Q ": " Q);
		p = put_str(p, kChannels[(h6 >> 3) % N(kChannels)]);
		p = put_str(p, Q ", " Q "counterparty" Q ": {" Q "name" Q ": " Q);
		p = put_str(p, kNames[(h2 >> 11) % N(kNames)]);
		p = put_str(p, Q ", " Q "iban" Q ": " Q);
		p = put_str(p, kIbanCc[(h2 >> 17) % N(kIbanCc)]);
		p = put_u64w(p, (h2 >> 21) % 100, 2);
		p = put_u64w(p, (h5 >> 15) % 100000000, 8);
		p = put_u64w(p, (h6 >> 31) % 10000000000, 10);
		p = put_str(p, Q "}, " Q "booking_date" Q ": " Q);
		p = put_str(p, date0);
		p = put_str(p, Q ", " Q "value_date" Q ": " Q);
		p = put_str(p, (h4 >> 20) % 3 ? date0 : date1);
		p = put_str(p, Q ", " Q "fx_rate" Q ": ");
		if (cur[0] == 'E')
			p = put_str(p, "1");
		else
		{
			p = put_str(p, "1.");
			p = put_u64w(p, (h4 >> 30) % 10000, 4);
		}
		p = put_str(p, "}\"");

		/* metadata */
		p = put_str(p, ",\"{" Q "correlation_id" Q ": " Q);
		p = put_uuid(p, (mix(h1 ^ 11) & ~UINT64_C(0xF000)) | UINT64_C(0x4000),
					 (mix(h1 ^ 12) & ~(UINT64_C(0x3) << 62)) | (UINT64_C(0x2) << 62));
		p = put_str(p, Q ", " Q "causation_id" Q ": " Q);
		p = put_uuid(p, (mix(h1 ^ 13) & ~UINT64_C(0xF000)) | UINT64_C(0x4000),
					 (mix(h1 ^ 14) & ~(UINT64_C(0x3) << 62)) | (UINT64_C(0x2) << 62));
		p = put_str(p, Q ", " Q "user_id" Q ": " Q "usr_");
		p = put_u64w(p, (h3 >> 2) % 1000000, 7);
		p = put_str(p, Q ", " Q "source" Q ": " Q);
		p = put_str(p, kSources[(h6 >> 50) % N(kSources)]);
		p = put_str(p, Q ", " Q "ip" Q ": " Q "10.");
		p = put_u64(p, (h5 >> 24) & 0xff);
		*p++ = '.';
		p = put_u64(p, (h5 >> 32) & 0xff);
		*p++ = '.';
		p = put_u64(p, (h5 >> 40) & 0xff);
		p = put_str(p, Q ", " Q "user_agent" Q ": " Q);
		p = put_str(p, kAgents[(h5 >> 48) % N(kAgents)]);
		p = put_str(p, Q ", " Q "tenant" Q ": " Q "tenant-");
		p = put_u64(p, 1 + (h6 >> 56) % 40);
		p = put_str(p, Q ", " Q "tags" Q ": [" Q);
		p = put_str(p, kTags[(h4 >> 40) % N(kTags)]);
		p = put_str(p, Q ", " Q);
		p = put_str(p, kTags[(h4 >> 44) % N(kTags)]);
		p = put_str(p, Q "]}\"\n");

		size_t n = (size_t) (p - line);
		if (used + n > sizeof(out))
		{
			if (fwrite(out, 1, used, stdout) != used)
			{
				perror("gen_events: write");
				return 1;
			}
			used = 0;
		}
		memcpy(out + used, line, n);
		used += n;
	}
	if (used && fwrite(out, 1, used, stdout) != used)
	{
		perror("gen_events: write");
		return 1;
	}
	if (fflush(stdout) != 0)
	{
		perror("gen_events: write");
		return 1;
	}
	return 0;
}
