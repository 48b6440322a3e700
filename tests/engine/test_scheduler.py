import pytest

from raxdoc.engine import SamplingParams, Scheduler, SchedulerConfig, Sequence, SlotManager, StopPolicy

P = SamplingParams(max_new_tokens=2, ignore_eos=True)


def _sched(slots=2, max_num_seqs=8, max_model_len=64, prefill=100, vision=50):
    cfg = SchedulerConfig(max_num_seqs=max_num_seqs, max_model_len=max_model_len,
                          prefill_token_budget=prefill, vit_token_budget=vision)
    return Scheduler(cfg, SlotManager(slots), StopPolicy(lambda ids: "", (), max_model_len))


def _seq(i, n, vision=0, params=P):
    return Sequence(i, list(range(1, n + 1)), params, num_vit_tokens=vision)


def test_admission_limited_by_free_slots_then_decode():
    s = _sched(slots=2)
    seqs = [_seq(i, 3) for i in range(3)]
    for q in seqs:
        assert s.add(q)
    b = s.schedule()
    assert b.kind == "prefill" and [q.seq_id for q in b.seqs] == [0, 1]
    assert {q.slot for q in b.seqs} == {0, 1} and len(s.waiting) == 1
    b = s.schedule()
    assert b.kind == "decode" and [q.seq_id for q in b.seqs] == [0, 1]


def test_admission_limited_by_prefill_and_vision_budgets():
    s = _sched(slots=8, prefill=10)
    for i, n in enumerate([4, 5, 2, 1]):
        s.add(_seq(i, n))
    assert [q.seq_id for q in s.schedule().seqs] == [0, 1]  # 4+5 fits, +2 would not: FIFO stops there
    assert [q.seq_id for q in s.schedule().seqs] == [2, 3]
    v = _sched(slots=8, vision=10)
    for i, n in enumerate([6, 5, 4]):
        v.add(_seq(i, 8, vision=n))
    assert [q.seq_id for q in v.schedule().seqs] == [0]
    assert [q.seq_id for q in v.schedule().seqs] == [1, 2]


def test_max_num_seqs_caps_running():
    s = _sched(slots=8, max_num_seqs=3)
    for i in range(5):
        s.add(_seq(i, 2))
    assert len(s.schedule().seqs) == 3
    assert s.schedule().kind == "decode"


def test_finished_slot_is_refilled_continuously():
    s = _sched(slots=2)
    short = SamplingParams(max_new_tokens=1, ignore_eos=True)
    seqs = [_seq(0, 3, params=short), _seq(1, 3), _seq(2, 3)]
    for q in seqs:
        s.add(q)
    b = s.schedule()
    done = s.postprocess(b.seqs, [7, 8])
    assert done == [seqs[0]] and seqs[0].finish_reason == "length" and seqs[0].slot is None
    b = s.schedule()  # the freed slot admits the waiting one before decoding again
    assert b.kind == "prefill" and b.seqs == [seqs[2]] and seqs[2].slot == 0
    assert s.schedule().kind == "decode"


@pytest.mark.parametrize("n, vision, why", [(64, 0, "max_model_len"), (101, 0, "prefill_token_budget"),
                                            (10, 51, "vit_token_budget")])
def test_prompt_that_can_never_fit_is_an_error_not_a_hang(n, vision, why):
    s = _sched(slots=1, max_model_len=64 if why != "prefill_token_budget" else 200)
    seq = _seq(0, n, vision=vision)
    assert not s.add(seq)
    assert seq.finish_reason == "error" and seq.error_type == "PromptTooLongError" and why in seq.error
    assert s.is_finished()


def test_postprocess_length_mismatch_raises():
    s = _sched()
    s.add(_seq(0, 2))
    b = s.schedule()
    with pytest.raises(ValueError):
        s.postprocess(b.seqs, [1, 2])
