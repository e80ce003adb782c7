-- Demo Benchling warehouse: the tables the default mapping (mapping.default.yaml) reads, laid out the way
-- Benchling lays out its warehouse: each table is a view over a table of the same name + `$raw`.
-- `$raw` tables carry internal columns (`_pkey`, `_sync_key`) that the views leave out. These views
-- filter nothing: archived rows stay visible, so readers must hide `archived$ = true` themselves.
-- `{{schema}}` is replaced by the quoted schema name. Idempotent: safe to run again.

CREATE SCHEMA IF NOT EXISTS {{schema}};

-- Benchling's standard project table.
CREATE TABLE IF NOT EXISTS {{schema}}."project$raw" (
    _pkey               bigserial,
    _sync_key           text,
    id                  text NOT NULL,
    name                text NOT NULL,
    description         text,
    owner_id            text,
    "archived$"         boolean NOT NULL DEFAULT false,
    "archive_purpose$"  text,
    created_at          timestamptz NOT NULL,
    modified_at         timestamptz NOT NULL,
    "url$"              text,
    CONSTRAINT "project$raw_id_key" UNIQUE (id)
);

-- Custom entity schema "Instrument".
CREATE TABLE IF NOT EXISTS {{schema}}."instrument$raw" (
    _pkey               bigserial,
    _sync_key           text,
    id                  text NOT NULL,
    name                text NOT NULL,
    "archived$"         boolean NOT NULL DEFAULT false,
    "archive_purpose$"  text,
    created_at          timestamptz NOT NULL,
    modified_at         timestamptz NOT NULL,
    creator_id          text,
    schema_id           text,
    source_id           text,
    folder_id           text,
    entity_registry_id  text,
    registry_id         text,
    "file_registry_id$" text,
    "url$"              text,
    "valid$"            boolean,
    model               text,
    serial_number       text,
    CONSTRAINT "instrument$raw_id_key" UNIQUE (id)
);

-- Custom entity schema "NGS Run".
CREATE TABLE IF NOT EXISTS {{schema}}."ngs_run$raw" (
    _pkey               bigserial,
    _sync_key           text,
    id                  text NOT NULL,
    name                text NOT NULL,
    "archived$"         boolean NOT NULL DEFAULT false,
    "archive_purpose$"  text,
    created_at          timestamptz NOT NULL,
    modified_at         timestamptz NOT NULL,
    creator_id          text,
    schema_id           text,
    source_id           text,
    folder_id           text,
    entity_registry_id  text,
    registry_id         text,
    "file_registry_id$" text,
    "url$"              text,
    "valid$"            boolean,
    project             text,   -- link: project id
    instrument          text,   -- entity link: instrument id
    run_date            date,
    flowcell_id         text,
    read_length         integer,
    CONSTRAINT "ngs_run$raw_id_key" UNIQUE (id)
);
CREATE INDEX IF NOT EXISTS "ngs_run$raw_created_at_idx" ON {{schema}}."ngs_run$raw" (created_at DESC, id DESC);

-- Custom entity schema "NGS Sample".
CREATE TABLE IF NOT EXISTS {{schema}}."ngs_sample$raw" (
    _pkey               bigserial,
    _sync_key           text,
    id                  text NOT NULL,
    name                text NOT NULL,
    "archived$"         boolean NOT NULL DEFAULT false,
    "archive_purpose$"  text,
    created_at          timestamptz NOT NULL,
    modified_at         timestamptz NOT NULL,
    creator_id          text,
    schema_id           text,
    source_id           text,
    folder_id           text,
    entity_registry_id  text,
    registry_id         text,
    "file_registry_id$" text,
    "url$"              text,
    "valid$"            boolean,
    ngs_run             text,   -- entity link: NGS run id
    fastq_r1            text,
    fastq_r2            text,
    expected_cells      integer,
    sample_type         text,
    seq_center          text,
    feature_type        text,
    species             text,
    CONSTRAINT "ngs_sample$raw_id_key" UNIQUE (id)
);
CREATE INDEX IF NOT EXISTS "ngs_sample$raw_ngs_run_idx" ON {{schema}}."ngs_sample$raw" (ngs_run);

CREATE OR REPLACE VIEW {{schema}}.project AS
    SELECT id, name, description, owner_id, "archived$", "archive_purpose$", created_at, modified_at, "url$"
    FROM {{schema}}."project$raw";

CREATE OR REPLACE VIEW {{schema}}.instrument AS
    SELECT id, name, "archived$", "archive_purpose$", created_at, modified_at, creator_id, schema_id,
           source_id, folder_id, entity_registry_id, registry_id, "file_registry_id$", "url$", "valid$",
           model, serial_number
    FROM {{schema}}."instrument$raw";

CREATE OR REPLACE VIEW {{schema}}.ngs_run AS
    SELECT id, name, "archived$", "archive_purpose$", created_at, modified_at, creator_id, schema_id,
           source_id, folder_id, entity_registry_id, registry_id, "file_registry_id$", "url$", "valid$",
           project, instrument, run_date, flowcell_id, read_length
    FROM {{schema}}."ngs_run$raw";

CREATE OR REPLACE VIEW {{schema}}.ngs_sample AS
    SELECT id, name, "archived$", "archive_purpose$", created_at, modified_at, creator_id, schema_id,
           source_id, folder_id, entity_registry_id, registry_id, "file_registry_id$", "url$", "valid$",
           ngs_run, fastq_r1, fastq_r2, expected_cells, sample_type, seq_center, feature_type, species
    FROM {{schema}}."ngs_sample$raw";
