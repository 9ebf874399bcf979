"""The synthetic rating generator used by benchmarks/ranker_scale.py: shape, skew, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.ranking.synthetic import default_shape, synthetic_ratings


def test_synthetic_ratings_are_unique_on_scale_and_skewed() -> None:
    r = synthetic_ratings(50_000, seed=3)
    df = r.df
    n_users, n_items = default_shape(50_000)
    assert len(df) == 50_000 and not df.duplicated(["user", "item"]).any()
    assert df["user"].between(1, n_users).all() and df["item"].between(1, n_items).all()
    assert set(np.unique(df["rating"])) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert 3.0 < df["rating"].mean() < 4.0
    counts = np.sort(df.groupby("item").size().to_numpy())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.25 * len(df)  # power law (uniform would be 0.10)
    per_user = df.groupby("user").size()
    assert per_user.max() > 3 * per_user.median()  # a few very active users


def test_synthetic_ratings_are_deterministic_and_validated() -> None:
    a, b = synthetic_ratings(20_000, seed=1), synthetic_ratings(20_000, seed=1)
    assert a.df.equals(b.df)
    assert not a.df.equals(synthetic_ratings(20_000, seed=2).df)
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_ratings(0)
    with pytest.raises(ValueError, match="do not fit"):
        synthetic_ratings(1_000, n_users=10, n_items=10)
