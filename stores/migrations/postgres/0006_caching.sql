-- Schema version 6: the caching (SMB oplocks and leases, in neutral terms) each gateway's
-- clients hold on inodes (stores/src/postgres/caching.rs).
--
-- One row per (gateway session, inode) the gateway's clients cache; `bits` says what they
-- hold: 1 read caching, 2 write caching, 4 handle caching. A row belongs to the gateway's
-- session (gateway_sessions, schema version 4), so a gateway killed with -9 loses its rows
-- when its session lapses and is reaped.
--
-- Every change of a row (insert, update, delete, cascade deletes of a lapsed session
-- included) is announced on the LISTEN/NOTIFY channel `dittofs_caching` by the trigger below,
-- as `c,<session>,<ino>,<bits>` (bits 0: the row is gone). Gateways keep a mirror of the
-- other sessions' rows from these notifications; recall requests travel on the same channel.

CREATE TABLE caching (
    session bigint NOT NULL REFERENCES gateway_sessions ON DELETE CASCADE,
    ino bigint NOT NULL,
    bits integer NOT NULL,
    PRIMARY KEY (session, ino)
);

CREATE INDEX caching_by_ino ON caching (ino);

CREATE FUNCTION caching_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dittofs_caching', 'c,' || OLD.session || ',' || OLD.ino || ',0');
        RETURN OLD;
    END IF;
    PERFORM pg_notify('dittofs_caching', 'c,' || NEW.session || ',' || NEW.ino || ',' || NEW.bits);
    RETURN NEW;
END
$$;

CREATE TRIGGER caching_changed AFTER INSERT OR UPDATE OR DELETE ON caching
    FOR EACH ROW EXECUTE FUNCTION caching_notify();
