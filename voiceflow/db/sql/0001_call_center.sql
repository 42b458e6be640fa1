-- voiceflow core schema: the call center the nine tools work on.
-- Dates are ISO "YYYY-MM-DD", times "HH:MM" (24 h) in the business's timezone,
-- timestamps ISO 8601 with offset.

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,                 -- "C-1001"
    name        TEXT NOT NULL,
    phone       TEXT UNIQUE,                      -- E.164, "+15551234567"
    email       TEXT UNIQUE COLLATE NOCASE,
    tier        TEXT NOT NULL DEFAULT 'standard'
                CHECK (tier IN ('standard', 'silver', 'gold', 'platinum')),
    created_at  TEXT NOT NULL
);

CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,         -- 1001, 1002, ...
    customer_id      TEXT NOT NULL REFERENCES customers(id),
    status           TEXT NOT NULL
                     CHECK (status IN ('processing', 'shipped', 'in transit', 'delivered', 'cancelled')),
    items            TEXT NOT NULL,
    total_cents      INTEGER NOT NULL CHECK (total_cents >= 0),
    carrier          TEXT,
    tracking_number  TEXT,
    placed_on        TEXT NOT NULL,
    eta              TEXT,
    delivered_on     TEXT
);
CREATE INDEX orders_by_customer ON orders(customer_id);

CREATE TABLE appointments (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    confirmation_number  TEXT NOT NULL UNIQUE,    -- "APT-482731"
    customer_id          TEXT REFERENCES customers(id),
    name                 TEXT NOT NULL,
    purpose              TEXT NOT NULL,
    date                 TEXT NOT NULL,
    time                 TEXT NOT NULL,
    resource             TEXT NOT NULL DEFAULT 'main',
    status               TEXT NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
-- One booked appointment per slot: a cancelled appointment frees its slot.
CREATE UNIQUE INDEX appointments_one_per_slot ON appointments(date, time, resource) WHERE status = 'booked';

CREATE TABLE feedback (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment      TEXT NOT NULL DEFAULT '',
    customer_id  TEXT REFERENCES customers(id),
    created_at   TEXT NOT NULL
);

CREATE TABLE transfers (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    department          TEXT NOT NULL,
    reason              TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'connected', 'abandoned')),
    queue_position      INTEGER NOT NULL,
    estimated_wait_s    INTEGER NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX transfers_waiting ON transfers(department, status, created_at);
