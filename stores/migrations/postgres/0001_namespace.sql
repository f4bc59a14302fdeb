-- DittoFS PostgreSQL metadata store, schema version 1: the namespace.
--
-- Unsigned 64-bit values of the store API (store id, content versions) are kept in bigint
-- with their bits unchanged; ids, cookies, sizes and change counters stay below 2^63 and are
-- plain positive numbers. Every `nodes` row and every `entries` row of a directory is only
-- changed by a transaction holding that directory's (or node's) row lock: see
-- stores/src/postgres/mod.rs.

-- One row: the store's identity, random, chosen by the first gateway to start
-- (INSERT ... ON CONFLICT DO NOTHING, then SELECT).
CREATE TABLE store_meta (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    store_id bigint NOT NULL
);

-- Inode ids are handed out in batches: each nextval reserves the 1024 ids [v, v + 1024).
-- Sequences never go back (not on rollback, not after a crash once a commit used them), so
-- an id is never given out twice, and never 0.
CREATE SEQUENCE inode_batches AS bigint START WITH 1 INCREMENT BY 1024 MINVALUE 1;

-- One value per gateway start: the generation of the inodes that run creates.
CREATE SEQUENCE generations AS bigint START WITH 1 INCREMENT BY 1 MINVALUE 1;

CREATE TABLE nodes (
    ino bigint PRIMARY KEY CHECK (ino > 0),
    generation bigint NOT NULL,
    -- 1 regular, 2 directory, 3 symlink, 4 block device, 5 char device, 6 socket, 7 fifo
    kind smallint NOT NULL CHECK (kind BETWEEN 1 AND 7),
    mode integer NOT NULL CHECK (mode BETWEEN 0 AND 4095),
    nlink bigint NOT NULL CHECK (nlink >= 0),
    uid bigint NOT NULL,
    gid bigint NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    rdev_major bigint NOT NULL,
    rdev_minor bigint NOT NULL,
    atime_s bigint NOT NULL, atime_ns integer NOT NULL,
    mtime_s bigint NOT NULL, mtime_ns integer NOT NULL,
    ctime_s bigint NOT NULL, ctime_ns integer NOT NULL,
    btime_s bigint NOT NULL, btime_ns integer NOT NULL,
    -- Grows with every change to the node (or a directory's entries).
    change bigint NOT NULL,
    -- Directories: the parent directory (a share root is its own parent) and the cookie the
    -- next linked entry gets. 0 for other kinds.
    parent bigint NOT NULL,
    next_cookie bigint NOT NULL,
    -- Symlinks: the target.
    symlink_target bytea,
    -- Regular files: the content version record_write recorded last, if any.
    content_version bigint
);

CREATE TABLE entries (
    dir bigint NOT NULL,
    name bytea NOT NULL,
    -- fold_case(name): lookup_folded's index.
    folded bytea NOT NULL,
    ino bigint NOT NULL,
    -- Monotonic per directory, never reused: readdir's order and resume point.
    cookie bigint NOT NULL,
    PRIMARY KEY (dir, name)
);
CREATE UNIQUE INDEX entries_by_cookie ON entries (dir, cookie);
CREATE INDEX entries_by_fold ON entries (dir, folded, name);

CREATE TABLE shares (
    name text PRIMARY KEY,
    root bigint NOT NULL
);

-- Server secrets (the NFS handle key): written once, never changed.
CREATE TABLE secrets (
    name text PRIMARY KEY,
    value bytea NOT NULL
);
