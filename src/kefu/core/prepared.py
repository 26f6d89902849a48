"""Queries compiled once and run many times, for the hottest read paths.

Turning a Django queryset into SQL costs far more than running a small indexed query: 0.1 to 0.6 ms of
Python for a one-row read with a few joins, against tens of microseconds in the database. Token
authentication, a user's teams and a case by id run the same query shape on every API request, so they
compile it once per database and reuse the SQL and the converters Django would apply to the result
(aware datetimes on SQLite, and so on): the rows are exactly those of the queryset.

Only fixed-shape querysets qualify: ``values_list()`` querysets filtered by plain equality on single
values. A parameter that Django would rewrite (``icontains`` adds ``%``) or that changes the SQL (a list
for ``__in``) is refused when the query is first compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet

_PLACEHOLDER = re.compile("%%|%s")
# Stand-ins for the parameters while the query compiles; no real id or token digest looks like these.
_PLACEHOLDERS = {int: lambda i: -(2**62) - i, str: lambda i: f"~kefu-prepared-parameter-{i}~"}


class PreparedQuery:
    """``build(*params)`` returns a ``values_list()`` queryset; ``kinds`` are the parameters' types (int
    or str). ``rows(*params)`` runs it and returns its rows as tuples, like ``list(queryset)``."""

    def __init__(self, build: Callable[..., QuerySet], *kinds: type) -> None:
        self.build = build
        self.kinds = kinds
        self._compiled: dict[tuple[str, str], tuple] = {}

    def rows(self, *params, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
        connection = connections[using]
        compiled = self._compiled.get((using, connection.vendor))
        if compiled is None:
            compiled = self._compiled[(using, connection.vendor)] = self._compile(using)
        sql, slots, converters = compiled
        args = {name: params[i] if i is not None else value for name, i, value in slots}
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        if not converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for pos, (functions, expression) in converters:
                value = row[pos]
                for function in functions:
                    value = function(value, expression, connection)
                row[pos] = value
            converted.append(tuple(row))
        return converted

    def _compile(self, using: str) -> tuple:
        placeholders = [_PLACEHOLDERS[kind](i) for i, kind in enumerate(self.kinds)]
        qs = self.build(*placeholders)
        compiler = qs.query.get_compiler(using=using)
        sql, compiled_params = compiler.as_sql()
        slots, seen = [], set()
        for n, value in enumerate(compiled_params):
            index = next((i for i, p in enumerate(placeholders)
                          if type(value) is type(p) and value == p), None)
            slots.append((f"p{n}", index, None if index is not None else value))
            seen.add(index)
        if not seen.issuperset(range(len(placeholders))):
            raise ValueError(f"a parameter of {qs.query} cannot be prepared: it is rewritten or unused")
        # Named parameters (%(p0)s…): on SQLite, Django turns positional %s into ? with a regular expression
        # on every execution, which for a long SELECT costs as much as running it; named ones are a % format.
        names = iter(name for name, _i, _v in slots)
        sql = _PLACEHOLDER.sub(lambda m: m.group() if m.group() == "%%" else f"%({next(names)})s", sql)
        fields = [column for column, _sql, _alias in compiler.select[: compiler.col_count]]
        converters = list(compiler.get_converters(fields).items())
        return sql, slots, converters
