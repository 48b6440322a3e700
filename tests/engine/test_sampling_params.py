import pytest

from raxdoc.engine import Result, SamplingParams, SamplingParamsError


def test_defaults_are_greedy_and_frozen():
    p = SamplingParams(max_new_tokens=8)
    assert p.greedy and p.top_p == 1.0 and p.stop == () and not p.ignore_eos
    with pytest.raises(AttributeError):
        p.temperature = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("kwargs", [
    {"max_new_tokens": 0}, {"max_new_tokens": 1.5}, {"max_new_tokens": True},
    {"max_new_tokens": 4, "temperature": -0.1}, {"max_new_tokens": 4, "temperature": float("nan")},
    {"max_new_tokens": 4, "top_p": 0.0}, {"max_new_tokens": 4, "top_p": 1.01},
    {"max_new_tokens": 4, "stop": "END"}, {"max_new_tokens": 4, "stop": ("",)},
    {"max_new_tokens": 4, "seed": "7"},
])
def test_invalid_params_raise_typed_error(kwargs):
    with pytest.raises(SamplingParamsError):
        SamplingParams(**kwargs)


def test_stop_list_is_normalised_to_tuple_and_hashable():
    p = SamplingParams(max_new_tokens=4, stop=["a", "bc"])
    assert p.stop == ("a", "bc")
    assert hash(p) == hash(SamplingParams(max_new_tokens=4, stop=("a", "bc")))


def test_result_timings_and_error_consistency():
    r = Result(token_ids=(1, 2), text="x", finish_reason="length", prompt_tokens=3, completion_tokens=2,
               t_queued=1.0, t_first_token=1.5, t_finished=3.0)
    assert r.ok and r.ttft == pytest.approx(0.5) and r.latency == pytest.approx(2.0)
    with pytest.raises(ValueError):
        Result(token_ids=(), text="", finish_reason="error", prompt_tokens=1, completion_tokens=0,
               t_queued=0.0, t_first_token=None, t_finished=0.0)
    with pytest.raises(ValueError):
        Result(token_ids=(), text="", finish_reason="done", prompt_tokens=1,  # type: ignore[arg-type]
               completion_tokens=0, t_queued=0.0, t_first_token=None, t_finished=0.0)
