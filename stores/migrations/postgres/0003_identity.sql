-- Schema version 3: users, groups, memberships and share grants (`identity.store: postgres`),
-- shared by every gateway on this database, and the change log gateways follow.
--
-- Every write runs in one transaction holding the advisory lock IDENTITY_LOCK
-- (stores/src/postgres/identity.rs), replaces the tables' rows, appends one row to
-- identity_changes and sends NOTIFY dittofs_identity with the new change id. Hashes are stored
-- as the configuration file stores them (bcrypt text, NT hash hex); no other table holds them.

-- One row once the identity tables are in use: set by the first gateway (or CLI) that wrote
-- them, normally importing the configuration file's users and groups. Its absence means the
-- import has not happened yet.
CREATE TABLE identity_meta (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    initialised_at timestamptz NOT NULL DEFAULT now(),
    origin text NOT NULL
);

-- `pos` keeps the order in which users and groups were added (what `user list` shows).
CREATE TABLE identity_groups (
    name text PRIMARY KEY,
    gid bigint NOT NULL UNIQUE CHECK (gid BETWEEN 0 AND 4294967295),
    pos integer NOT NULL
);

CREATE TABLE identity_users (
    username text PRIMARY KEY,
    uid bigint NOT NULL UNIQUE CHECK (uid BETWEEN 0 AND 4294967295),
    gid bigint NOT NULL CHECK (gid BETWEEN 0 AND 4294967295),
    -- bcrypt hash, as in the file's password_hash; NULL: no password.
    password_hash text,
    -- MD4 of the UTF-16LE password as 32 hex digits, as in the file's nt_hash.
    nt_hash text,
    pos integer NOT NULL
);

CREATE TABLE identity_members (
    username text NOT NULL REFERENCES identity_users ON DELETE CASCADE,
    group_name text NOT NULL REFERENCES identity_groups ON DELETE RESTRICT,
    pos integer NOT NULL,
    PRIMARY KEY (username, group_name)
);

CREATE TABLE identity_user_grants (
    username text NOT NULL REFERENCES identity_users ON DELETE CASCADE,
    share text NOT NULL,
    permission text NOT NULL CHECK (permission IN ('none', 'read', 'read-write')),
    PRIMARY KEY (username, share)
);

CREATE TABLE identity_group_grants (
    group_name text NOT NULL REFERENCES identity_groups ON DELETE CASCADE,
    share text NOT NULL,
    permission text NOT NULL CHECK (permission IN ('none', 'read', 'read-write')),
    PRIMARY KEY (group_name, share)
);

-- One row per committed change, ids increasing: a gateway compares the newest id with the one
-- its snapshot was loaded at, so a change it missed a NOTIFY for is caught by its next poll.
-- `summary` names the change (e.g. "user add alice"), never a secret. Old rows are pruned.
CREATE TABLE identity_changes (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    summary text NOT NULL
);
