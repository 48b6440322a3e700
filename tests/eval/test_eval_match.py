"""Item matching: the Hungarian assignment against brute force, and DocILE-style item pairing."""

import itertools

import numpy as np
import pytest

from raxdoc.eval.match import agreement, assignment, match_items


def _brute_force(weight: np.ndarray) -> float:
    n, m = weight.shape
    if n <= m:
        return max(sum(weight[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    return max(sum(weight[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))


@pytest.mark.parametrize("seed", range(40))
def test_assignment_is_maximal_and_one_to_one(seed):
    rng = np.random.default_rng(seed)
    n, m = (int(x) for x in rng.integers(1, 6, 2))
    weight = rng.integers(0, 5, (n, m)).astype(float)
    pairs = assignment(weight)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs) == min(n, m)
    assert sum(weight[i, j] for i, j in pairs) == _brute_force(weight)


def test_assignment_of_nothing_is_empty():
    assert assignment(np.zeros((0, 3))) == [] and assignment(np.zeros((2, 0))) == []


def test_greedy_would_be_wrong():
    # Greedy takes (0, 0) = 3 and is left with (1, 1) = 0; the maximum is 2 + 2.
    assert assignment(np.array([[3.0, 2.0], [2.0, 0.0]])) == [(0, 1), (1, 0)]


def test_swapped_items_still_match_and_strangers_stay_unmatched():
    a = {"description": "a", "amount": 1}
    b = {"description": "b", "amount": 2}
    stranger = {"description": "z", "amount": 9}
    assert match_items([a, b], [b, a]) == [(0, 1), (1, 0)]
    assert match_items([a, b], [stranger, a]) == [(0, 1)]
    assert match_items([a], []) == []


def test_no_value_never_agrees():
    assert agreement({"description": None, "amount": 1}, {"description": None, "amount": 1}) == 1


@pytest.mark.parametrize("seed", range(30))
def test_pairing_identical_items_first_keeps_the_optimum(seed):
    # Few values per field, so identical items, near-identical items and repeats are common.
    rng = np.random.default_rng(seed)

    def item():
        return {f: (None if v == 0 else int(v)) for f, v in zip("abc", rng.integers(0, 3, 3))}

    truth = [item() for _ in range(int(rng.integers(1, 6)))]
    predicted = [item() for _ in range(int(rng.integers(1, 6)))]
    pairs = match_items(truth, predicted)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)
    full = np.array([[agreement(t, p) for p in predicted] for t in truth], dtype=float)
    assert sum(full[i, j] for i, j in pairs) == _brute_force(full)
