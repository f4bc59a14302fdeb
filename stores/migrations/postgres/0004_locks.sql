-- Schema version 4: byte-range locks shared by the gateways on this database
-- (stores/src/postgres/locks.rs).
--
-- Each running gateway process has one row in gateway_sessions, which it keeps alive by
-- moving expires_at forward (a heartbeat, and every lock change). Every lock belongs to a
-- session; a session whose expires_at has passed is dead: its locks are ignored by conflict
-- checks and deleted (with the session, by the cascade) by whoever finds them, so a gateway
-- killed with -9 releases its locks once its session expires. Times are the database's own
-- clock (now()), so the gateways' clocks do not matter.
--
-- A gateway changes the locks of one inode only in a transaction holding the advisory lock
-- (two-key form) on that inode, which serialises conflict checks with inserts.

CREATE TABLE gateway_sessions (
    id bigint PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Offsets and lengths are unsigned 64-bit values stored by their bits in bigint columns;
-- the gateways compare them, not SQL.
CREATE TABLE locks (
    session bigint NOT NULL REFERENCES gateway_sessions ON DELETE CASCADE,
    ino bigint NOT NULL,
    owner bytea NOT NULL,
    lock_offset bigint NOT NULL,
    lock_length bigint NOT NULL,
    exclusive boolean NOT NULL
);

CREATE INDEX locks_by_ino ON locks (ino, session);
CREATE INDEX locks_by_owner ON locks (session, ino, owner);
