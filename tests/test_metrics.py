"""genrec.evaluation.metrics against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genrec.evaluation.metrics import (
    average_precision_at_k,
    catalog_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    mae,
    map_at_k,
    mrr,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    rmse,
    topn_metrics,
)

L2_3, L2_5 = 1 / math.log2(3), 1 / math.log2(5)  # discounts at positions 2 and 4


def test_rmse_and_mae_by_hand() -> None:
    # errors 0, 1, 2 -> mse 5/3, mae 1
    assert rmse([1, 2, 3], [1, 3, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert mae([1, 2, 3], [1, 3, 5]) == pytest.approx(1.0)
    assert rmse(np.array([4.0]), [4.0]) == 0.0


def test_rating_error_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        rmse([], [])
    with pytest.raises(ValueError, match="must match"):
        mae([1, 2], [1])
    with pytest.raises(ValueError, match="NaN"):
        rmse([float("nan")], [1.0])


def test_per_list_metrics_by_hand() -> None:
    ranked, rel = [1, 2, 3, 4, 5], {2, 4, 9}
    idcg3 = 1 + L2_3 + 0.5
    assert precision_at_k(ranked, rel, 5) == pytest.approx(2 / 5)
    assert recall_at_k(ranked, rel, 5) == pytest.approx(2 / 3)
    assert hit_rate_at_k(ranked, rel, 5) == 1.0
    assert ndcg_at_k(ranked, rel, 5) == pytest.approx((L2_3 + L2_5) / idcg3)
    # precision at the hit positions: 1/2 and 2/4, over min(3, 5) relevant
    assert average_precision_at_k(ranked, rel, 5) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert mrr(ranked, rel, 5) == pytest.approx(1 / 2)
    # cut at k=3: only the hit at position 2 counts; IDCG still over min(3, 3)
    assert precision_at_k(ranked, rel, 3) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, rel, 3) == pytest.approx(1 / 3)
    assert ndcg_at_k(ranked, rel, 3) == pytest.approx(L2_3 / idcg3)
    assert map_at_k(ranked, rel, 3) == pytest.approx((1 / 2) / 3)


def test_ideal_and_empty_lists() -> None:
    assert ndcg_at_k([2, 4, 9], {2, 4, 9}, 10) == pytest.approx(1.0)
    assert average_precision_at_k([2, 4, 9], {2, 4, 9}, 10) == pytest.approx(1.0)
    # more relevant items than k: a full list of hits is still ideal (IDCG over min(|rel|, k))
    assert ndcg_at_k([1, 2], {1, 2, 3, 4}, 2) == pytest.approx(1.0)
    assert average_precision_at_k([1, 2], {1, 2, 3, 4}, 2) == pytest.approx(1.0)
    assert recall_at_k([1, 2], {1, 2, 3, 4}, 2) == pytest.approx(0.5)
    for fn in (precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k, mrr, hit_rate_at_k):
        assert fn([1, 2], {7}, 2) == 0.0
        assert fn([], {7}, 2) == 0.0
        assert fn([1, 2], set(), 2) == 0.0


def test_repeated_ids_count_once_and_k_is_checked() -> None:
    assert precision_at_k([2, 2, 3], {2}, 3) == pytest.approx(1 / 3)
    assert ndcg_at_k([2, 2], {2, 3}, 2) == pytest.approx(1 / (1 + L2_3))
    with pytest.raises(ValueError, match="k must be at least 1"):
        ndcg_at_k([1], {1}, 0)


def test_topn_metrics_means_over_users_with_relevant_items() -> None:
    ranked = {"a": [1, 2, 3, 4, 5], "b": [9, 8, 7, 6, 5], "c": [1, 2, 3, 4, 5], "d": [1]}
    relevant = {"a": {2, 4, 9}, "b": {9}, "c": set(), "d": {5}}  # c is skipped, d has no hit
    out = topn_metrics(ranked, relevant, k=5)
    assert out["users"] == 3
    users = ["a", "b", "d"]
    per = {
        "precision@5": precision_at_k, "recall@5": recall_at_k, "ndcg@5": ndcg_at_k,
        "map@5": average_precision_at_k, "mrr@5": mrr, "hit_rate@5": hit_rate_at_k,
    }
    for name, fn in per.items():
        assert out[name] == pytest.approx(
            np.mean([fn(ranked[u], relevant[u], 5) for u in users])
        ), name
    # by hand for two of them
    assert out["mrr@5"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert out["hit_rate@5"] == pytest.approx(2 / 3)
    # a user missing from `ranked` counts as an empty list
    assert topn_metrics({}, {"x": {1}}, k=3)["ndcg@3"] == 0.0
    assert topn_metrics({}, {}, k=3)["users"] == 0.0


def test_coverage_and_novelty_by_hand() -> None:
    assert catalog_coverage({1: [1, 2], 2: [2, 3]}, catalog_size=10) == pytest.approx(0.3)
    assert catalog_coverage([[1, 2, 3]], catalog_size=10, k=1) == pytest.approx(0.1)
    # shares 0.5 and 0.25 -> self-information 1 and 2 bits
    assert novelty([[1, 2]], {1: 50, 2: 25}, n_users=100) == pytest.approx(1.5)
    # an unrated item counts as rated once: log2(100)
    assert novelty([[3]], {1: 50}, n_users=100) == pytest.approx(math.log2(100))


def test_intra_list_diversity_jaccard_and_cosine() -> None:
    genres = {1: ("A", "B"), 2: ("B",), 3: ("C",)}
    # d12 = 1 - 1/2, d13 = d23 = 1
    assert intra_list_diversity([1, 2, 3], genres) == pytest.approx(2.5 / 3)
    vecs = {1: np.array([1.0, 0.0]), 2: np.array([0.0, 1.0]), 3: np.array([1.0, 1.0])}
    d = 1 - 1 / math.sqrt(2)
    assert intra_list_diversity([1, 2, 3], vecs) == pytest.approx((1 + 2 * d) / 3)
    assert intra_list_diversity([1], vecs) == 0.0
    assert intra_list_diversity([1, 1, 2], vecs, k=2) == 0.0  # the repeat leaves one distinct item


# -------------------------------------------------------------------------------------- over turns


def test_cumulative_recall_success_and_turns_to_hit_by_hand() -> None:
    from genrec.evaluation.metrics import cumulative_recall, first_hit_turn
    from genrec.evaluation.protocols.taste import conversation_scores

    shown = [[1, 2, 3], [4, 5, 1], [6, 7]]
    relevant = {5, 7, 9, 11}
    assert cumulative_recall(shown, relevant, k=10) == [0.0, 0.25, 0.5]
    assert cumulative_recall(shown, relevant, k=1) == [
        0.0,
        0.0,
        0.0,
    ]  # only each list's first item counts
    assert cumulative_recall(shown, set()) == [0.0, 0.0, 0.0]
    assert first_hit_turn(shown, relevant) == 2 and first_hit_turn(shown, {99}) == 4
    rows = conversation_scores(shown, [[9, 1], None, [1, 2, 9]], relevant, 10)
    assert [r["success"] for r in rows] == [0.0, 1.0, 1.0]
    assert [r["turns_to_hit"] for r in rows] == [
        2.0,
        2.0,
        2.0,
    ]  # turn 1: no hit yet, so "turns so far + 1"
    assert rows[0]["ndcg@10_standing"] == pytest.approx(
        1.0 / (1 + 1 / math.log2(3) + 0.5 + 1 / math.log2(5))
    )
    assert rows[1]["ndcg@10_standing"] is None
    assert rows[2]["ndcg@10_standing"] == pytest.approx(
        0.5 / (1 + 1 / math.log2(3) + 0.5 + 1 / math.log2(5))
    )


def test_bootstrap_intervals_by_hand() -> None:
    from genrec.evaluation.metrics import bootstrap_ci, paired_bootstrap_ci

    mean, lo, hi = bootstrap_ci([0.0, 1.0] * 50, resamples=4000, seed=1)
    assert mean == 0.5 and lo < 0.5 < hi
    assert lo == pytest.approx(0.5 - 1.96 * 0.05, abs=0.02) and hi == pytest.approx(
        0.5 + 1.96 * 0.05, abs=0.02
    )
    assert bootstrap_ci([0.0, 1.0] * 50, seed=3) == bootstrap_ci([0.0, 1.0] * 50, seed=3)  # seeded
    # paired: a constant per-user difference has a zero-width interval, whatever the spread of users
    a = [0.1, 0.9, 0.4, 0.7]
    assert paired_bootstrap_ci(a, [x - 0.25 for x in a]) == pytest.approx((0.25, 0.25, 0.25))
    with pytest.raises(ValueError, match="pair them"):
        paired_bootstrap_ci([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([])
