"""The demo service centre (康泰制药) and the bulk seeder behind ``kefu demo`` and ``kefu seed``.

- ``centre``: the demo company's departments, teams, staff and named customers, made through the services.
- ``corpus``: the Chinese names, places, products and conversation scripts the generator draws from.
- ``generator``: plans customers and case histories with a seeded ``random.Random`` (no database).
- ``writer``: writes planned rows in batches (executemany on SQLite, COPY on PostgreSQL); see
  docs/adr/0002-bulk-seeding.md for why and for the invariants it keeps.
- ``seeding``: the batch loop with the progress bar and the per-batch hook for the search index.
"""
