"""The metric catalogue is the one list of metric columns: the schema, the writer and the pages'
pickers all agree with it."""

import duckdb
import pytest

from store import catalogue
from store.schema import create_schema
from store.writer import METRIC_COLUMNS

KEYS = ["model_id", "condition_id", "sample_id"]


def test_schema_sql_has_exactly_the_catalogue_columns_with_their_types():
    con = duckdb.connect()
    create_schema(con, num_classes=7)
    columns = con.execute("""SELECT column_name, data_type, is_nullable FROM information_schema.columns
                             WHERE table_name = 'metrics' ORDER BY ordinal_position""").fetchall()
    assert [c[0] for c in columns] == KEYS + [m.name for m in catalogue.METRICS]
    for (name, sql_type, nullable), metric in zip(columns[3:], catalogue.METRICS, strict=True):
        assert sql_type == metric.sql_type.replace("[C]", "[7]"), name
        assert (nullable == "YES") == metric.nullable, name


def test_the_writer_and_the_queries_take_their_columns_from_it():
    assert list(METRIC_COLUMNS) == [m.name for m in catalogue.METRICS if m.name != "angles"]
    assert set(catalogue.CORE) <= set(catalogue.PLOTTABLE)
    assert catalogue.DEFAULT_METRIC in catalogue.PLOTTABLE
    for name in catalogue.PLOTTABLE:
        assert catalogue.plottable(name) == name
    for bad in ("pred", "angles", "length; DROP TABLE metrics"):
        with pytest.raises(ValueError, match="unknown metric"):
            catalogue.plottable(bad)
    assert catalogue.BY_NAME["angle_true"].title == "angle to the true class direction (degrees)"
    assert catalogue.BY_NAME["length"].title == "feature length ||f||"  # no unit, no brackets
