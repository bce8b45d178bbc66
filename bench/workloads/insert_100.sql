-- (2) 100-event transaction: one multi-row INSERT of 100 ~700-byte events,
-- committed together (the statement is its own transaction). Each row gets its
-- own accounts, amount and ids from random(); event_id and ts take the table
-- defaults. The access method sees exactly what a 100-row INSERT ... VALUES
-- does: 100 tuple inserts and one commit.
\set usr random(1, 999999)
\set ref random(1, 9999999)
\set tenant 1 + :ref % 40
INSERT INTO @TABLE@ (event_type, aggregate_id, aggregate_version, debit_account,
                     credit_account, tx_id, amount, currency, payload, metadata)
SELECT 'FundsTransferred', gen_random_uuid(), 1,
       1 + (random() * ((:accounts)::bigint - 1))::bigint,
       1 + (random() * ((:accounts)::bigint - 1))::bigint,
       gen_random_uuid(), round((random() * 20000)::numeric, 2), 'EUR',
       format('{"description": "invoice settlement", "reference": "INV-2026-%s", "channel": "sepa_credit", "counterparty": {"name": "Acme Trading GmbH", "iban": "DE%s"}, "booking_date": "%s", "value_date": "%s", "fx_rate": 1}',
              (:ref)::bigint + g, lpad((random() * 1e18)::bigint::text, 20, '0'), current_date, current_date)::jsonb,
       format('{"correlation_id": "%s", "causation_id": "%s", "user_id": "usr_%s", "source": "batch-settlement", "ip": "10.%s.%s.17", "user_agent": "LedgerBatch/2.7.1", "tenant": "tenant-%s", "tags": ["b2b", "reconciled"]}',
              gen_random_uuid(), gen_random_uuid(), (:usr)::text, g, (:usr)::int % 256, (:tenant)::text)::jsonb
FROM generate_series(1, 100) AS g;
