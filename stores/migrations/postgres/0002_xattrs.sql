-- Schema version 2: extended attributes, one row per attribute, freed with the node.
CREATE TABLE xattrs (
    ino bigint NOT NULL,
    name bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (ino, name)
);
