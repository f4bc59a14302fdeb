-- Schema version 5: SMB durable opens kept across a gateway restart (MetadataStore::
-- put_durable_open). One row per durable open the server granted and has not closed yet, keyed
-- by the share's name and the open's persistent id; the record is the front end's encoding,
-- opaque to the store. A gateway writes the row when it grants durability and deletes it when
-- the open closes; at start it reads its shares' rows back.

CREATE TABLE durable_opens (
    share text NOT NULL,
    id bigint NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (share, id)
);
