"""The engine benchmark in CPU mode (tiny preset): it runs end to end, baseline included, and its
figures are complete, positive and consistent with each other and with the engine's results.

Small pages (400 px) keep it quick; the page size, the prompt and the checkpoint path are the
benchmark's own. Speed is not asserted (bench/ measures it); arithmetic between figures is.
"""

import json

import pytest
import torch

from bench.pages import invoice_page
from bench.engine_run import format_report, run_engine_bench

ENGINE_KEYS = {"pages", "wall_s", "pages_per_s", "prefill_tokens", "decode_tokens", "output_tokens",
               "prefill_s", "decode_s", "prefill_tok_s", "decode_tok_s", "output_tok_s", "prefill_steps",
               "decode_steps", "model_tflop", "achieved_tflop_s", "mfu", "prefill_mfu", "decode_mfu",
               "peak_memory_gib", "max_pages_in_flight", "slots", "max_num_seqs"}
BASELINE_KEYS = {"pages", "batch_size", "wall_s", "pages_per_s", "prompt_tokens", "output_tokens",
                 "output_tok_s", "peak_memory_gib"}
TOP_KEYS = {"benchmark", "date", "command", "commit", "torch", "transformers", "python", "device",
            "host_load_average", "device_type", "preset", "profile", "profile_fields", "dtype",
            "memory_cap_gib", "peak_flops", "peak_source", "peak_memory_kind", "workload", "engine",
            "baseline", "speedup", "targets", "runner", "fla", "triton"}


def test_invoice_page_is_deterministic_letter_size():
    a, b, c = invoice_page(7), invoice_page(7), invoice_page(8)
    assert a.size == (round(1288 * 8.5 / 11), 1288)
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    assert invoice_page(1, long_side=333).size == (257, 333)  # awkward size still draws
    with pytest.raises(ValueError):
        invoice_page(1, long_side=50)


def test_cpu_bench_tiny_runs_and_figures_agree(tmp_path, tiny_checkpoint):
    # Reuse the session's tiny checkpoint through the cache layout ensure_checkpoint reads.
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    (ckpt_dir / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)
    out = tmp_path / "r.json"
    pages, n = 3, 4
    report = run_engine_bench(preset="tiny", pages=pages, max_new_tokens=n, profile="cpu", device="cpu",
                              ckpt_dir=ckpt_dir, out=out, warmup_pages=1, unique_pages=2, long_side=400,
                              baseline=True, baseline_pages=2, command="pytest", verbose=False)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(report))
    assert TOP_KEYS <= saved.keys()
    e, b, w = saved["engine"], saved["baseline"], saved["workload"]
    assert ENGINE_KEYS <= e.keys() and BASELINE_KEYS <= b.keys()
    for key in ENGINE_KEYS:
        assert e[key] is not None and e[key] > 0, key
    for key in BASELINE_KEYS - {"peak_memory_gib"}:  # no CUDA peak on CPU
        assert b[key] > 0, key

    # Tokens: every page gets exactly n tokens, the first from prefill, the rest from decode.
    assert e["output_tokens"] == pages * n and e["decode_tokens"] == pages * (n - 1)
    assert e["prefill_tokens"] == sum(w["prompt_tokens_per_page"][i % 2] for i in range(pages))
    assert w["visual_tokens_per_page"] == w["image_grid_thw"][1] * w["image_grid_thw"][2] // 4
    assert w["prompt_tokens_per_page"][0] > w["visual_tokens_per_page"] + w["instruction_tokens"]
    # Rates are the counts over the times they claim.
    assert e["pages_per_s"] == pytest.approx(pages / e["wall_s"], rel=1e-3)
    assert e["prefill_tok_s"] == pytest.approx(e["prefill_tokens"] / e["prefill_s"], rel=1e-3)
    assert e["decode_tok_s"] == pytest.approx(e["decode_tokens"] / e["decode_s"], rel=1e-3)
    assert e["prefill_s"] + e["decode_s"] <= e["wall_s"] * 1.001
    assert 0 < e["mfu"] < 1
    # All pages fit in the cpu profile's 4 slots, so all decode together.
    assert e["max_pages_in_flight"] == pages <= e["slots"]

    assert b["pages"] == 2 and b["output_tokens"] == 2 * n
    assert saved["speedup"] == pytest.approx(e["pages_per_s"] / b["pages_per_s"], rel=1e-2)
    assert saved["command"] == "pytest" and saved["preset"] == "tiny" and saved["device_type"] == "cpu"
    assert saved["profile_fields"]["max_num_seqs"] == 4
    assert [p.name for p in ckpt_dir.iterdir()] == ["tiny-random"]  # reused, nothing written beside it
    assert saved["runner"] == {"ops": "torch", "decode_attention": "gather", "cuda_graphs": False,
                               "graphs_captured": 0, "graph_error": None, "overlap_decode": False,
                               "discarded_decode_rows": 0}
    text = format_report(saved)
    assert "pages/s" in text and "speedup" in text
    assert "ops torch | decode attention gather | eager | serial decode" in text
    failed = format_report({**saved, "baseline": {"error": "OutOfMemoryError at batch 64"}, "speedup": None})
    assert "OutOfMemoryError at batch 64" in failed and "speedup" not in failed


def test_bench_rejects_bad_arguments():
    with pytest.raises(ValueError):
        run_engine_bench(preset="tiny", pages=0, max_new_tokens=4, device="cpu", verbose=False)
    with pytest.raises(ValueError):
        run_engine_bench(preset="tiny", pages=1, max_new_tokens=4, device="cpu", memory_cap_gib=1.0,
                         verbose=False)


def test_targets_follow_the_issue():
    from bench.engine_run import _targets

    report = {"engine": {"pages_per_s": 30.0, "peak_memory_gib": 21.5, "max_pages_in_flight": 64},
              "workload": {"max_new_tokens": 512}, "memory_cap_gib": None, "speedup": 19.9}
    assert _targets(report) == {"max_new_tokens == 512": True, "pages_per_s >= 25": True,
                                "speedup >= 20": False}
    capped = {**report, "memory_cap_gib": 22.0, "engine": {**report["engine"], "max_pages_in_flight": 63}}
    assert _targets(capped) == {"max_new_tokens == 512": True, "peak_memory <= cap": True,
                                "pages in flight >= 64": False}


def test_failed_requests_stop_the_benchmark(tmp_path, tiny_checkpoint):
    from bench.engine_run import BenchmarkError

    (tmp_path / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)
    # A ViT budget below one page's patches: every request fails at admission, no figure is made.
    with pytest.raises(BenchmarkError, match="did not produce"):
        run_engine_bench(preset="tiny", pages=2, max_new_tokens=2, profile="cpu", device="cpu",
                         profile_overrides={"vit_token_budget": 64}, ckpt_dir=tmp_path, warmup_pages=0,
                         long_side=400, baseline=False, verbose=False)


def test_baseline_batches_left_pad():
    from bench.hf_baseline import _batch

    pix = [torch.ones(8, 3), torch.full((4, 3), 2.0)]
    prompts = [{"input_ids": [5, 6, 7], "pixel_values": pix[0], "image_grid_thw": torch.tensor([[1, 2, 4]])},
               {"input_ids": [9], "pixel_values": None, "image_grid_thw": None},
               {"input_ids": [1, 2], "pixel_values": pix[1], "image_grid_thw": torch.tensor([[1, 2, 2]])}]
    b = _batch(prompts, pad_id=0, device=torch.device("cpu"), dtype=torch.float32)
    assert b["input_ids"].tolist() == [[5, 6, 7], [0, 0, 9], [0, 1, 2]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1], [0, 1, 1]]
    assert torch.equal(b["pixel_values"], torch.cat(pix))  # images in prompt order, text-only skipped
    assert b["image_grid_thw"].tolist() == [[1, 2, 4], [1, 2, 2]]


def test_ensure_checkpoint_writes_once_and_atomically(tmp_path, monkeypatch):
    from bench.workload import ensure_checkpoint
    from raxdoc.testing import presets

    calls = []

    def fake_write(path, preset):
        calls.append((path, preset))
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            (path / name).write_text("{}")
        return path

    monkeypatch.setattr(presets, "write_random_checkpoint", fake_write)
    first = ensure_checkpoint("tiny", tmp_path / "cache")
    again = ensure_checkpoint("tiny", tmp_path / "cache")
    assert first == again == tmp_path / "cache" / "tiny-random" and len(calls) == 1
    assert calls[0][0].parent == first.parent and calls[0][0] != first  # written beside, then renamed
    assert sorted(p.name for p in first.parent.iterdir()) == ["tiny-random"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bench_tiny_reports_device_memory(tmp_path, tiny_checkpoint):
    (tmp_path / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)
    report = run_engine_bench(preset="tiny", pages=4, max_new_tokens=8, profile="l4", device="cuda",
                              ckpt_dir=tmp_path, warmup_pages=1, long_side=400, baseline_pages=2,
                              memory_cap_gib=8.0, verbose=False)
    e = report["engine"]
    assert 0 < e["peak_memory_gib"] <= 8.0 and report["peak_memory_kind"].startswith("cuda")
    assert e["output_tokens"] == 32 and e["max_pages_in_flight"] == 4
    assert report["baseline"]["output_tokens"] == 16 and report["baseline"]["peak_memory_gib"] > 0
    assert report["peak_flops"] is None or e["mfu"] > 0
    runner = report["runner"]  # the l4 profile asks for graphs; fla when installed
    assert runner["cuda_graphs"] and runner["graphs_captured"] >= 1 and runner["graph_error"] is None
    assert runner["ops"] == ("fla" if report["fla"] else "torch")


def test_bench_script_parses_arguments_into_the_run(tmp_path, tiny_checkpoint):
    from bench.engine import main

    (tmp_path / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)
    out = tmp_path / "nested" / "r.json"
    report = main(["--preset", "tiny", "--profile", "cpu", "--pages", "2", "--max-new-tokens", "3",
                   "--no-baseline", "--ckpt-dir", str(tmp_path), "--warmup-pages", "0", "--unique-pages", "1",
                   "--long-side", "333", "--device", "cpu", "--decode-attention", "gather", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["baseline"] is None and saved["speedup"] is None
    assert saved["runner"]["decode_attention"] == "gather"
    assert saved["workload"]["page_px"] == [257, 333] and saved["workload"]["unique_pages"] == 1
    assert saved["engine"]["output_tokens"] == 6 and report["workload"]["warmup_pages"] == 0


def test_engine_figures_are_on_disk_before_the_baseline_starts(tmp_path, tiny_checkpoint, monkeypatch):
    """A bounded GPU session may kill the process during the (slow) baseline: the engine's figures
    must already be in the JSON by then, saying the baseline did not finish."""
    import bench.engine_run as benchmark

    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    (ckpt_dir / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # what a timeout's signal looks like from inside

    monkeypatch.setattr(benchmark, "run_baseline", killed)
    out = tmp_path / "r.json"
    with pytest.raises(KeyboardInterrupt):
        benchmark.run_engine_bench(preset="tiny", pages=2, max_new_tokens=3, profile="cpu", device="cpu",
                                   ckpt_dir=ckpt_dir, out=out, warmup_pages=0, unique_pages=1, long_side=300,
                                   verbose=False)
    saved = json.loads(out.read_text())
    assert saved["engine"]["output_tokens"] == 6 and saved["engine"]["pages_per_s"] > 0
    assert saved["baseline"]["error"].startswith("not finished") and saved["speedup"] is None


def test_prefill_warmup_packs_one_prefill_per_size_class(tiny_checkpoint):
    """The CUDA warm-up must hit every prefill size class the timed run can (fla autotunes its norm
    kernels per class): k prompts just under one class each have to go in as one prefill of k."""
    from raxdoc.engine import Engine
    from bench.engine_timer import warm_prefill_sizes

    engine = Engine.from_pretrained(str(tiny_checkpoint), device="cpu", max_num_seqs=4, max_model_len=300,
                                    prefill_token_budget=1000)
    assert warm_prefill_sizes(engine, torch.device("cpu")) == []  # no Triton on CPU: nothing to warm
    seen = []
    prefill = engine.runner.prefill
    engine.runner.prefill = lambda seqs: seen.append(sum(s.num_prompt_tokens for s in seqs)) or prefill(seqs)
    sizes = warm_prefill_sizes(engine, torch.device("cuda"))  # only the device type is read
    assert sizes == [299, 598, 897] and seen == sizes  # 1000 // 299 = 3 classes, one prefill each
    engine.close()


def test_bench_counts_hold_with_overlapped_decode(tmp_path, tiny_checkpoint, monkeypatch):
    """Overlapped decode (the default on CUDA) queues a step before it knows which rows the last ids
    finished: the runner sees up to one extra row per request. The bench's recorder must pass
    `next_tokens` through and its count check allow exactly that slack (it raised TypeError, then
    BenchmarkError, on the first GPU run)."""
    monkeypatch.setenv("RAXDOC_OVERLAP_DECODE", "1")
    (tmp_path / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)
    pages, n = 3, 5
    report = run_engine_bench(preset="tiny", pages=pages, max_new_tokens=n, profile="cpu", device="cpu",
                              ckpt_dir=tmp_path, warmup_pages=1, unique_pages=1, long_side=300, baseline=False,
                              verbose=False)
    runner, e = report["runner"], report["engine"]
    assert runner["overlap_decode"] is True and 0 <= runner["discarded_decode_rows"] <= pages
    assert e["output_tokens"] == pages * n and e["decode_tokens"] == pages * (n - 1)


def test_constrained_bench_runs_the_pipeline_grammar_and_counts_what_was_made(tmp_path, tiny_checkpoint):
    """`grammar=True`: every page constrained to the invoice page schema; lengths vary up to the limit,
    every output parses (the engine closes the JSON in time), FLOPs and rates use the tokens made."""
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir()
    (ckpt_dir / "tiny-random").symlink_to(tiny_checkpoint, target_is_directory=True)
    pages, n = 2, 48
    report = run_engine_bench(preset="tiny", pages=pages, max_new_tokens=n, profile="cpu", device="cpu",
                              ckpt_dir=ckpt_dir, warmup_pages=1, unique_pages=2, long_side=400,
                              baseline=True, grammar=True, command="pytest", verbose=False)
    e, c = report["engine"], report["constrained"]
    assert report["baseline"] is None and report["workload"]["grammar"] == "invoice page schema"
    assert c["json_parsed"] == pages
    assert pages <= e["output_tokens"] <= pages * n
    assert e["decode_tokens"] == e["output_tokens"] - pages
    assert e["decode_tok_s"] == pytest.approx(e["decode_tokens"] / e["decode_s"], rel=1e-3)
    assert "grammar" in format_report(report)
