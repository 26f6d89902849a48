"""The full-text index tables: an FTS5 table per kind of document on SQLite, a tsvector table with a GIN
index on PostgreSQL (kefu.search.backends explains them; docs/adr/0003-search-index.md why)."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE search_case_fts USING fts5(body, content='', tokenize='ascii', detail=full)",
    "CREATE VIRTUAL TABLE search_customer_fts USING fts5(body, content='', tokenize='ascii', detail=full)",
    "CREATE TABLE search_customer_text (customer_id INTEGER PRIMARY KEY, texts TEXT NOT NULL)",
]
SQLITE_DROP = ["DROP TABLE IF EXISTS search_case_fts", "DROP TABLE IF EXISTS search_customer_fts",
               "DROP TABLE IF EXISTS search_customer_text"]
POSTGRES = [
    "CREATE TABLE search_casedoc (case_id bigint PRIMARY KEY, tsv tsvector, exact boolean NOT NULL)",
    "CREATE INDEX search_casedoc_tsv ON search_casedoc USING gin (tsv)",
    "CREATE INDEX search_casedoc_inexact ON search_casedoc (case_id) WHERE NOT exact",
    "CREATE TABLE search_customerdoc (customer_id bigint PRIMARY KEY, tsv tsvector, exact boolean NOT NULL)",
    "CREATE INDEX search_customerdoc_tsv ON search_customerdoc USING gin (tsv)",
    "CREATE INDEX search_customerdoc_inexact ON search_customerdoc (customer_id) WHERE NOT exact",
]
POSTGRES_DROP = ["DROP TABLE IF EXISTS search_casedoc", "DROP TABLE IF EXISTS search_customerdoc"]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES)
    else:
        raise NotImplementedError(f"kefu's search index supports SQLite and PostgreSQL, not {vendor}")


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    _run(schema_editor, SQLITE_DROP if vendor == "sqlite" else POSTGRES_DROP)


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create, drop, elidable=False)]
