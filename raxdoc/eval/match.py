"""One-to-one matching of predicted items to true items, maximising the fields that agree.

This is DocILE's line-item recognition matching (text variant, no boxes): the weight of a
(true item, predicted item) pair is the number of fields whose values are equal (by
`values.py`'s rules), and the matching is the one-to-one assignment with the largest total
weight. Pairs of weight 0 are left unmatched: pairing them or not gives the same field counts,
and "matched items" then means items that share at least one value. Item order plays no part,
so a swapped pair of lines still matches in full.

The assignment is a small Hungarian algorithm (shortest augmenting paths with potentials,
O(n^2 m)), its inner loop vectorised with numpy, rather than scipy's `linear_sum_assignment`:
an invoice has at most a few hundred items (near-diagonal weights, as real outputs give,
solve in milliseconds at 300 x 300; random ones in about 3 s), and 40 lines are cheaper than
a 40 MB dependency only eval would use. `tests/eval` checks it against brute force.

Not here: what counts as equal (`values.py`) or the counting (`score.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np


def assignment(weight: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) pairs of a one-to-one assignment of maximum total `weight` (n x m, any
    shape); every row is assigned when n <= m, every column when n > m."""
    weight = np.asarray(weight, dtype=np.float64)
    n, m = weight.shape
    if n == 0 or m == 0:
        return []
    if n > m:
        return sorted((i, j) for j, i in assignment(weight.T))
    cost = weight.max() - weight  # minimise a non-negative cost instead
    # Potentials u (rows), v (columns); owner[j] = 1-based row holding column j (0: free);
    # column 0 is a virtual start column. 1-based as in the classic formulation.
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)
    for row in range(1, n + 1):
        owner[0] = row
        col = 0
        best = np.full(m + 1, np.inf)  # shortest reduced distance to each column so far
        via = np.zeros(m + 1, dtype=np.int64)  # previous column on that path
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[col] = True
            r = owner[col]
            free = ~used
            free[0] = False
            reduced = np.full(m + 1, np.inf)
            reduced[1:] = cost[r - 1] - u[r] - v[1:]  # (m,)
            closer = free & (reduced < best)
            best[closer] = reduced[closer]
            via[closer] = col
            nxt = int(np.argmin(np.where(free, best, np.inf)))
            delta = best[nxt]
            u[owner[used]] += delta  # rows on the tree (distinct: one per used column)
            v[used] -= delta
            best[free] -= delta
            col = nxt
            if owner[col] == 0:
                break
        while col:  # augment along the path back to the start column
            prev = via[col]
            owner[col] = owner[prev]
            col = prev
    return sorted((int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j])


def agreement(truth: dict[str, Any], predicted: dict[str, Any]) -> int:
    """Fields that hold the same value in both items (no value on either side never agrees)."""
    return sum(1 for name, key in truth.items() if key is not None and predicted.get(name) == key)


def match_items(truth: Sequence[dict[str, Any]], predicted: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """(true index, predicted index) pairs of the maximum matching; pairs that agree on no field
    are left out."""
    # Identical items pair first. That keeps the optimum (exchange argument: if t == p, then
    # w(t, p) + w(t', p') >= w(t, p') + w(t', p) for any t', p', since every field t' and p' both
    # share with t they share with each other) and leaves the Hungarian only the items that
    # differ: a mostly right output costs almost nothing to score.
    waiting: dict[tuple, list[int]] = defaultdict(list)
    for j, item in enumerate(predicted):
        waiting[_frozen(item)].append(j)
    pairs, rest_t = [], []
    for i, item in enumerate(truth):
        same = waiting.get(_frozen(item))
        if same:
            pairs.append((i, same.pop(0)))
        else:
            rest_t.append(i)
    taken = {j for _, j in pairs}
    rest_p = [j for j in range(len(predicted)) if j not in taken]
    if rest_t and rest_p:
        weight = np.array([[agreement(truth[i], predicted[j]) for j in rest_p] for i in rest_t], dtype=np.float64)
        pairs += [(rest_t[a], rest_p[b]) for a, b in assignment(weight) if weight[a, b] > 0]
    return sorted((i, j) for i, j in pairs if agreement(truth[i], predicted[j]) > 0)


def _frozen(item: dict[str, Any]) -> tuple:
    return tuple(sorted(item.items()))
