"""`column IN (a batch of values)` as each database takes it best: on PostgreSQL one
array parameter (`= ANY`), so that a batch of a thousand ids is neither rendered nor
parsed as a thousand parameters and the statement's text stays the same every tick
(compiled and prepared once); elsewhere the usual expanding IN."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam


def one_of(column: Any, values: Collection[Any], postgres: bool) -> ColumnElement[bool]:
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
