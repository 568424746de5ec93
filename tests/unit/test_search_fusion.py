"""Reciprocal rank fusion (shipway.search.fuse) on fixed rankings: score = sum of 1 / (k + rank)."""

from __future__ import annotations

import pytest

from shipway.search import Fused, fuse


def test_scores_are_summed_reciprocal_ranks_and_sorted_best_first():
    fused = fuse(["a", "b", "c"], ["c", "d"], k=60)
    assert fused == [
        Fused("c", pytest.approx(1 / 63 + 1 / 61), 3, 1),
        Fused("a", pytest.approx(1 / 61), 1, None),
        # b and d tie at 1/62 with the same best rank: by name
        Fused("b", pytest.approx(1 / 62), 2, None),
        Fused("d", pytest.approx(1 / 62), None, 2),
    ]


def test_k_sets_how_much_the_top_ranks_dominate():
    # with a small k, first place in one list beats third place in both
    assert [f.name for f in fuse(["x", "y", "z"], ["w", "v", "z"], k=1)][:2] == ["w", "x"]
    assert fuse(["x", "y", "z"], ["w", "v", "z"], k=1)[0].score == pytest.approx(1 / 2)
    # with k = 60 being in both lists at rank 3 wins
    top = fuse(["x", "y", "z"], ["w", "v", "z"], k=60)[0]
    assert (top.name, top.vector_rank, top.text_rank) == ("z", 3, 3)
    assert top.score == pytest.approx(2 / 63)


@pytest.mark.parametrize(("rank", "both_wins"), [(2, True), (61, True), (62, False), (63, False)])
def test_rank_r_in_both_lists_beats_first_place_in_one_while_r_is_below_k_plus_2(rank, both_wins):
    """2 / (k + r) > 1 / (k + 1)  <=>  r < k + 2; at r = k + 2 the scores tie and the better single rank wins."""
    vector = ["solo", *(f"v{i}" for i in range(2, rank)), "both"]
    text = [*(f"t{i}" for i in range(1, rank)), "both"]
    fused = fuse(vector, text, k=60)
    names = [f.name for f in fused]
    both = fused[names.index("both")]
    assert (both.vector_rank, both.text_rank) == (rank, rank)
    assert both.score == pytest.approx(2 / (60 + rank))
    assert (names.index("both") < names.index("solo")) == both_wins


def test_empty_rankings_and_bad_arguments():
    assert fuse([], []) == []
    assert fuse([], ["only"]) == [Fused("only", pytest.approx(1 / 61), None, 1)]
    with pytest.raises(ValueError):
        fuse(["a"], ["a"], k=0)
    with pytest.raises(ValueError):
        fuse(["a", "a"], [])
