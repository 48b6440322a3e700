"""bench/model_forward.py runs on CPU with the tiny preset and writes its JSON record."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "model_forward.py"


def test_model_forward_bench_runs_tiny(tmp_path):
    spec = importlib.util.spec_from_file_location("model_forward", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--preset", "tiny", "--grid", "6x10", "--text-tokens", "9", "--warmup", "0",
                         "--iters", "1", "--device", "cpu", "--out", str(tmp_path)])
    assert result["visual_tokens"] == 15 and result["tokens"] == 9 + 2 + 15
    written = json.loads(next(tmp_path.glob("model_forward-tiny-*.json")).read_text())
    assert {"device", "commit", "date", "command", "median_ms", "tokens_per_s"} <= written.keys()
