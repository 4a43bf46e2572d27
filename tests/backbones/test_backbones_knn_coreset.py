"""Greedy k-centre coreset of a memory bank: every row left out has a chosen row near it."""

import numpy as np

from defectlab.backbones.knn import CosineIndex, greedy_coreset, normalise


def coverage_radius(bank: np.ndarray, chosen: np.ndarray) -> float:
    return float(CosineIndex(bank[chosen]).distance(bank).max())


def test_coreset_rows_are_distinct_and_cover_the_bank_better_as_it_grows():
    rng = np.random.default_rng(0)
    bank = normalise(rng.normal(size=(400, 16)))
    small, large = greedy_coreset(bank, 20), greedy_coreset(bank, 80)
    assert small[0] == 0 and len(set(small)) == 20 and len(set(large)) == 80
    assert list(large[:20]) == list(small)  # greedy: a larger coreset extends a smaller one
    assert coverage_radius(bank, large) < coverage_radius(bank, small)
    assert sorted(greedy_coreset(bank, 1000)) == list(range(400))


def test_farthest_rows_are_picked_first():
    bank = np.array([[1.0, 0.0], [0.99, 0.1], [-1.0, 0.0], [0.0, 1.0]])
    assert list(greedy_coreset(bank, 2)) == [0, 2]


def test_a_long_bank_is_chosen_part_by_part_each_part_covered_and_given_its_share():
    rng = np.random.default_rng(1)
    bank = normalise(rng.normal(size=(1000, 16)))
    assert list(greedy_coreset(bank, 50, part_rows=1000)) == list(greedy_coreset(bank, 50))  # one part: one run
    chosen = greedy_coreset(bank, 101, part_rows=300)  # four parts of 250 rows
    assert len(set(chosen)) == 101
    counts = np.bincount(chosen // 250, minlength=4)
    assert sorted(counts) == [25, 25, 25, 26]
    radii = []
    for part in range(4):
        rows = bank[250 * part : 250 * (part + 1)]
        inside = chosen[chosen // 250 == part] - 250 * part
        assert list(inside) == list(greedy_coreset(rows, len(inside)))  # each part is its own greedy run
        radii.append(coverage_radius(rows, inside))
    assert coverage_radius(bank, chosen) <= max(radii) + 1e-6  # no row is farther than its part's radius
