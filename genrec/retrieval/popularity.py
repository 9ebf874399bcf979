"""Item popularity for the store: rating counts per item, taken from the ratings the caller names.

The store ranks a blank query's matches by these counts. They are not written into the index, so
one index serves every split; pass the training split's counts so held-out ratings never leak in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from genrec.data import Ratings


def rating_counts(ratings: Ratings) -> dict[int, int]:
    """Number of ratings per item id (items nobody rated are absent).

    >>> import pandas as pd
    >>> rating_counts(Ratings(pd.DataFrame({"user": [1, 2, 2], "item": [7, 7, 9],
    ...                                     "rating": [4.0, 5.0, 3.0], "timestamp": [0, 0, 0]})))
    {7: 2, 9: 1}
    """
    return ratings.item_counts()


def counts_for(ids: np.ndarray, popularity: Mapping[int, int]) -> np.ndarray:
    """`popularity` aligned with `ids` (int64; 0 for an item the mapping lacks).

    >>> counts_for(np.array([9, 7, 3]), {7: 2, 9: 1}).tolist()
    [1, 2, 0]
    """
    return np.array([int(popularity.get(int(i), 0)) for i in ids], dtype=np.int64)
