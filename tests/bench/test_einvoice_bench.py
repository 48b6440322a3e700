"""bench/einvoice.py runs on a tiny corpus and its figures add up (speed itself is not asserted)."""

import json

from bench.einvoice import main


def test_einvoice_bench_runs_and_records_every_route(tmp_path):
    out = tmp_path / "e.json"
    result = main(["--docs", "2", "--repeat", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    figures = result["figures"]
    assert set(figures) == {"facturx_pdf_einvoice", "cii_xml_einvoice", "ubl_xml_einvoice",
                            "facturx_pdf_rendered_pages"}
    for fig in figures.values():
        assert fig["documents"] == 2 and fig["median_s"] > 0
        assert abs(fig["docs_per_s_per_core"] * fig["median_s"] - 2) < 0.2
