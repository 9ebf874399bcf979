"""What a fitted MFRanker learned (`MFWeights`), field by field, and its named-array form.

`MFRanker.save` writes `arrays()` into weights.npz; `MFRanker.load` rebuilds with `from_arrays`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["MFWeights"]


@dataclass(frozen=True)
class MFWeights:
    """Everything a fitted `MFRanker` learned; `save` writes each field under its own name.

    A new piece of model state is one new field here (arrays are saved and loaded as they are;
    the sparse `train` matrix as train_indptr / train_indices / train_data; `ease` only when set).

    >>> w = MFWeights(np.array([1]), np.array([7, 8]), np.ones((2, 3), np.float32),
    ...               np.ones((1, 3), np.float32), np.zeros(1, np.float32),
    ...               sp.csr_matrix(np.array([[4.0, 0.0]], np.float32)), np.array([1, 0]))
    >>> sorted(w.arrays())  # doctest: +NORMALIZE_WHITESPACE
    ['item_codes', 'item_ids', 'popularity', 'train_data', 'train_indices', 'train_indptr',
     'user_bias', 'user_factors', 'user_ids']
    >>> back = MFWeights.from_arrays(w.arrays())
    >>> back.train.toarray().tolist(), back.ease is None
    ([[4.0, 0.0]], True)
    """

    user_ids: np.ndarray  # (n_users,) int64, sorted: row j of the user arrays is user_ids[j]
    item_ids: np.ndarray  # (n_items,) int64, sorted
    item_codes: np.ndarray  # (n_items, d) float32: H, the decoder's fixed item factors
    user_factors: np.ndarray  # (n_users, d) float32
    user_bias: np.ndarray  # (n_users,) float32
    train: sp.csr_matrix  # (n_users, n_items) training ratings, shifted so that 0 = unrated
    popularity: np.ndarray  # (n_items,) int64 training rating counts
    ease: np.ndarray | None = None  # (n_items, n_items) float32 EASE weights, None when skipped

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields as named arrays (the weights.npz form)."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, sp.csr_matrix):
                out.update({f"{f.name}_indptr": value.indptr, f"{f.name}_indices": value.indices,
                            f"{f.name}_data": value.data})
            elif value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> MFWeights:
        """Inverse of `arrays`; KeyError when a required array is missing."""
        shape = (len(a["user_ids"]), len(a["item_ids"]))  # the one sparse field is users x items
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f"{f.name}_indptr" in a:
                kw[f.name] = sp.csr_matrix(
                    (a[f"{f.name}_data"], a[f"{f.name}_indices"], a[f"{f.name}_indptr"]),
                    shape=shape,
                )
            elif f.name in a or f.default is MISSING:
                kw[f.name] = a[f.name]
        return cls(**kw)
