import datetime as dt
import json
from decimal import Decimal

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raxdoc.postprocess import parse_page_output
from raxdoc.postprocess.merge import merge_pages
from raxdoc.schemas import (
    Invoice, document_row, documents_arrow_schema, error_row, line_item_rows, line_items_arrow_schema, to_table,
)
from tests.schemas.sample_schema import Receipt

D = Decimal


def _page(obj, index, schema=Invoice):
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return parse_page_output(text, schema, constrained=True, page_index=index)


@pytest.fixture(scope="module")
def docs():
    ok = merge_pages([
        _page({"invoice_number": "A-1", "issue_date": "13.03.2024", "currency": "€",
               "line_items": [{"description": "Kabel", "quantity": "1.000", "unit_price": "0,287351",
                               "amount": "287,35"}, {"description": "Montage über"}]}, 0),
        _page({"subtotal": "1.287,35", "tax_total": "244,60", "total": "1.531,95",
               "tax_breakdown": [{"rate": "19 %", "base_amount": "1.287,35", "tax_amount": "244,60"}],
               "line_items": [{"description": "zwei Tage", "quantity": "1", "unit_price": "1.000,00",
                               "amount": "1.000,00"}]}, 1),
    ], doc_id="a" * 64, source="s3://bucket/a.pdf")
    partial = merge_pages([_page({"invoice_number": "B-2", "total": "(12.00)", "line_items": [
        {"description": "Credit", "amount": "-12.00"}]}, 0), _page("<think>cut", 1)], doc_id="b" * 64, source="b.pdf")
    return ok, partial


@pytest.fixture(scope="module")
def written(docs, tmp_path_factory):
    ok, partial = docs
    rows = [document_row(ok, model="rax-4.5", prompt_version="page-v1", timings={"engine_s": 1.25}),
            document_row(partial, model="rax-4.5", prompt_version="page-v1"),
            error_row("c" * 64, "c.pdf", "unreadable_pdf", "not a PDF", page_count=0)]
    schema = documents_arrow_schema(Invoice)
    table = to_table(rows, schema)
    items = to_table([r for d in docs for r in line_item_rows(d)], line_items_arrow_schema(Invoice))
    root = tmp_path_factory.mktemp("pq")
    pq.write_table(table, root / "documents.parquet")
    pq.write_table(items, root / "line_items.parquet")
    return root, table, items


def test_rows_content(docs, written):
    ok, partial = docs
    _, table, items = written
    rows = table.to_pylist()
    assert [r["status"] for r in rows] == ["ok", "partial", "error"]
    assert rows[0]["total"] == D("1531.95") and rows[0]["currency"] == "EUR"
    assert rows[0]["line_items"][1]["description"] == "Montage über zwei Tage"
    assert rows[0]["line_items"][0]["unit_price"] == D("0.287351")
    assert rows[0]["check_tax_breakdown"] is True and rows[0]["check_subtotal_tax_total"] is True
    assert rows[0]["engine_s"] == 1.25 and rows[0]["prompt_version"] == "page-v1"
    assert rows[1]["failed_pages"][0]["raw_text"] == "<think>cut" and rows[1]["failed_pages"][0]["page_index"] == 1
    assert rows[1]["total"] == D("-12.00")
    assert rows[2]["error_type"] == "unreadable_pdf" and rows[2]["line_items"] is None and rows[2]["total"] is None
    keys = [(r["doc_id"][0], r["page_index"], r["item_index"]) for r in items.to_pylist()]
    assert keys == [("a", 0, 0), ("a", 0, 1), ("b", 0, 0)]  # page 1's first line joined page 0's last
    assert len(set(keys)) == len(keys)


def test_pyarrow_reads_back_same_schema_and_values(written):
    root, table, items = written
    back = pq.read_table(root / "documents.parquet")
    assert back.schema.equals(table.schema)
    assert back.to_pylist() == table.to_pylist()
    assert pq.read_table(root / "line_items.parquet").to_pylist() == items.to_pylist()


def test_pandas_reads_exact_decimals(written):
    root, table, _ = written
    df = pd.read_parquet(root / "documents.parquet")
    assert list(df.columns) == table.schema.names
    assert df["total"][0] == D("1531.95") and isinstance(df["total"][0], Decimal)
    assert df["issue_date"][0] == dt.date(2024, 3, 13)
    assert df["line_items"][0][0]["unit_price"] == D("0.287351")
    assert pd.isna(df["total"][2])


def test_polars_reads_decimal_18_6(written):
    root, table, _ = written
    df = pl.read_parquet(root / "documents.parquet")
    assert df.columns == table.schema.names
    assert df.schema["total"] == pl.Decimal(18, 6)
    assert df.schema["issue_date"] == pl.Date
    assert df["total"].to_list() == [D("1531.95"), D("-12.00"), None]
    items = pl.read_parquet(root / "line_items.parquet")
    assert items["amount"].sum() == D("1275.35")  # exact decimal sum: 287.35 + 1000 - 12


def test_duckdb_reads_decimal_18_6(written):
    root, table, _ = written
    con = duckdb.connect()
    described = con.execute(f"DESCRIBE SELECT * FROM '{root / 'documents.parquet'}'").fetchall()
    cols = {r[0]: r[1] for r in described}
    assert list(cols) == table.schema.names
    assert cols["total"] == "DECIMAL(18,6)" and cols["issue_date"] == "DATE"
    total, = con.execute(f"SELECT sum(amount) FROM '{root / 'line_items.parquet'}'").fetchone()
    assert total == D("1275.35")
    first = con.execute(f"SELECT line_items[1].unit_price, status FROM '{root / 'documents.parquet'}' "
                        "ORDER BY doc_id LIMIT 1").fetchone()
    assert first == (D("0.287351"), "ok")


def test_custom_schema_rows_round_trip(tmp_path):
    doc = merge_pages([_page({"store": "Kiosk", "purchased_on": "02.01.2024", "lines": [
        {"name": "Tea", "qty": 2, "price": "1,50", "amount": "3,00"}]}, 0, Receipt)], doc_id="r")
    table = to_table([document_row(doc), error_row("e", "e.pdf", "x", "y")], documents_arrow_schema(Receipt))
    pq.write_table(table, tmp_path / "r.parquet")
    back = pl.read_parquet(tmp_path / "r.parquet")
    assert back["store"].to_list() == ["Kiosk", None]
    assert back["lines"][0][0]["amount"] == D("3.00")
    assert back["lines"][0][0]["check_amount"] is None  # Receipt names its fields qty/price: not checkable


def test_to_table_refuses_unknown_columns_and_lossy_decimals():
    schema = documents_arrow_schema(Invoice)
    with pytest.raises(ValueError, match="not in the schema"):
        to_table([{"doc_id": "x", "status": "ok", "bogus": 1}], schema)
    with pytest.raises(pa.ArrowInvalid):  # never rounds silently: normalisation keeps values in range
        to_table([{"doc_id": "x", "status": "ok", "total": D("0.1234567")}], schema)
    with pytest.raises(ValueError, match="timing"):
        error_row("x", "x", "t", "m", timings={"gpu_s": 1.0})
