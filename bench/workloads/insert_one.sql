-- (1) single-event transaction: one ~700-byte event per autocommit INSERT.
-- @TABLE@ is replaced by bench/run (events_heap or events_ledger); :accounts
-- comes from pgbench -D. event_id and ts take the table defaults
-- (ledger_am.uuid_v7(), clock_timestamp()), the same for both tables.
\set debit random(1, :accounts)
\set credit random(1, :accounts)
\set cents random(1, 2000000)
\set usr random(1, 999999)
\set ref random(1, 9999999)
\set iban_hi random(100000000, 999999999)
\set iban_lo random(10000000000, 99999999999)
\set ip2 :usr % 256
\set ip3 :ref % 256
\set tenant 1 + :ref % 40
INSERT INTO @TABLE@ (event_type, aggregate_id, aggregate_version, debit_account,
                     credit_account, tx_id, amount, currency, payload, metadata)
VALUES ('FundsTransferred', gen_random_uuid(), 1, :debit, :credit, gen_random_uuid(),
        (:cents)::numeric / 100, 'EUR',
        format('{"description": "invoice settlement", "reference": "INV-2026-%s", "channel": "sepa_credit", "counterparty": {"name": "Acme Trading GmbH", "iban": "DE%s%s"}, "booking_date": "%s", "value_date": "%s", "fx_rate": 1}',
               (:ref)::text, (:iban_hi)::text, (:iban_lo)::text, current_date, current_date)::jsonb,
        format('{"correlation_id": "%s", "causation_id": "%s", "user_id": "usr_%s", "source": "payments-api", "ip": "10.%s.%s.17", "user_agent": "okhttp/4.12.0", "tenant": "tenant-%s", "tags": ["b2b", "instant"]}',
               gen_random_uuid(), gen_random_uuid(), (:usr)::text, (:ip2)::text, (:ip3)::text, (:tenant)::text)::jsonb);
