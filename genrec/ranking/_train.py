"""Training of the two components: an item autoencoder (I-AutoRec) for ratings, EASE for ranking.

Both work on integer indices (0..n_users-1, 0..n_items-1); id mapping lives in the ranker.
`training_frame` checks the ratings every ranker trains on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from genrec.data import Ratings
from genrec.knobs import RankerConfig


def effective_reg(config: RankerConfig, n_ratings: int) -> float:
    """The autoencoder's L2 weight for a training set of `n_ratings` ratings (see `reg`)."""
    return config.reg * min(1.0, math.sqrt(max(n_ratings, 1) / config.reg_full_size))


def training_frame(ratings: Ratings, what: str) -> pd.DataFrame:
    """The ratings frame, de-duplicated (last rating of a pair wins), after sanity checks."""
    if not isinstance(ratings, Ratings):
        raise TypeError(f"{what}: expected genrec.data.Ratings, got {type(ratings).__name__}")
    df = ratings.df
    if len(df) == 0:
        raise ValueError(f"{what}: no ratings; a ranker needs at least one rating to learn from")
    lo, hi = ratings.scale
    r = df["rating"].to_numpy()
    bad = ~np.isfinite(r) | (r < lo) | (r > hi)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}: {int(bad.sum())} ratings outside the scale {lo:g}..{hi:g} "
            f"(first: row {row}, user {int(df['user'].iloc[row])}, "
            f"item {int(df['item'].iloc[row])}, "
            f"rating {r[row]!r}); fix the data or pass the right scale to Ratings(..., scale=)"
        )
    return df.drop_duplicates(["user", "item"], keep="last")


@dataclass(frozen=True)
class IndexedRatings:
    """Training ratings on indices into `user_ids` / `item_ids`, shifted so every observed value
    is >= 1 (0 means unrated), with the validation ratings indexed and shifted the same way."""

    user_ids: np.ndarray  # sorted, int64
    item_ids: np.ndarray  # sorted, int64
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray  # float32
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    n_ratings: int


def index_ratings(
    ratings: Ratings, validation: Ratings | None, items: Iterable[int] | None, shift: float
) -> IndexedRatings:
    """`ratings` (and `validation`, less users/items unknown to training) as indexed arrays;
    `items` adds item ids without ratings."""
    df = training_frame(ratings, "training ratings")
    user_ids = np.unique(df["user"].to_numpy()).astype(np.int64)
    item_ids = np.unique(df["item"].to_numpy())
    if items is not None:
        item_ids = np.union1d(item_ids, np.fromiter((int(i) for i in items), dtype=np.int64))
    item_ids = item_ids.astype(np.int64)
    u = np.searchsorted(user_ids, df["user"].to_numpy())
    i = np.searchsorted(item_ids, df["item"].to_numpy())
    r = df["rating"].to_numpy(np.float32) + np.float32(shift)
    val = None
    if validation is not None:
        vdf = training_frame(validation, "validation ratings")
        keep = vdf["user"].isin(user_ids) & vdf["item"].isin(item_ids)
        vdf = vdf[keep.to_numpy()]
        if len(vdf):
            val = (
                np.searchsorted(user_ids, vdf["user"].to_numpy()),
                np.searchsorted(item_ids, vdf["item"].to_numpy()),
                vdf["rating"].to_numpy(np.float32) + np.float32(shift),
            )
    return IndexedRatings(user_ids, item_ids, u, i, r, val, int(len(df)))


@dataclass
class AutoRecWeights:
    """Trained rating model: item codes H = sigmoid(R W_enc^T + b_enc);
    rating = H_i . W_dec[u] + b_dec[u].

    The decoder is a matrix factorisation with fixed item factors H, which is what makes fold-in
    of a new user a ridge regression.
    """

    item_codes: np.ndarray  # (n_items, d) float32
    user_factors: np.ndarray  # (n_users, d) float32
    user_bias: np.ndarray  # (n_users,) float32
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    dense: bool = True


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch sees no CUDA GPU; use 'cpu' or 'auto'"
        )
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


WARMUP = 0.2  # share of the epochs spent raising the learning rate (one-cycle schedule)
DENSE_FACTOR = 40  # dense blocks while cells <= 40 x ratings (measured crossover on CPU)
DENSE_CELLS = 20_000_000  # most cells of one dense block


def _item_batches(items: np.ndarray, n_items: int, max_ratings: int,
                  max_rows: int | None = None) -> list[tuple[int, int]]:
    """Contiguous item ranges [lo, hi) with at most max_ratings ratings (and max_rows items)."""
    counts = np.bincount(items, minlength=n_items)
    out, lo, acc = [], 0, 0
    for j, c in enumerate(counts):
        if (acc and acc + c > max_ratings) or (max_rows is not None and j - lo >= max_rows):
            out.append((lo, j))
            lo, acc = j, 0
        acc += int(c)
    out.append((lo, n_items))
    return out


# one block of items: (CSR pattern or None, user, item, rating of each cell, COO block)
_Block = tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _rating_blocks(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    config: RankerConfig,
    dev: torch.device,
) -> tuple[list[_Block], torch.Tensor, bool]:
    """The ratings as (items x users) training blocks, the whole sparse matrix, and whether
    the blocks are trained dense."""
    order = np.argsort(items, kind="stable")
    u_all = torch.as_tensor(users[order], dtype=torch.long)
    i_all = torch.as_tensor(items[order], dtype=torch.long)
    r_all = torch.as_tensor(ratings[order], dtype=torch.float32)
    starts = np.concatenate([[0], np.cumsum(np.bincount(items, minlength=n_items))])
    n_ratings = len(ratings)
    dense = config.dense
    if dense is None:
        dense = n_items * n_users <= DENSE_FACTOR * max(n_ratings, 1)
    # dense path: whole (items x users) blocks, fast on CPU while the matrix is small;
    # sparse path: only observed cells (cost linear in ratings), for large sparse data
    max_rows = max(1, DENSE_CELLS // max(n_users, 1))
    batches: list[_Block] = []
    for lo, hi in _item_batches(items, n_items, config.batch_ratings, max_rows if dense else None):
        s, e = int(starts[lo]), int(starts[hi])
        ub, ib, rb = u_all[s:e].to(dev), (i_all[s:e] - lo).to(dev), r_all[s:e].to(dev)
        sp = torch.sparse_coo_tensor(torch.stack([ib, ub]), rb, (hi - lo, n_users),
                                     check_invariants=False).coalesce()
        ib, ub = sp.indices()
        rb = sp.values()  # (item, user)-sorted, the order of the CSR pattern's values below
        pattern = None if dense else sp.to_sparse_csr()
        batches.append((pattern, ub, ib, rb, sp))
    full = torch.sparse_coo_tensor(
        torch.stack([i_all, u_all]), r_all, (n_items, n_users), check_invariants=False
    ).coalesce().to(dev)
    return batches, full, dense


def _initial_weights(
    n_users: int, d: int, gen: torch.Generator, dev: torch.device
) -> list[torch.Tensor]:
    """[w_enc, b_enc, w_dec, b_dec]: random encoder and decoder matrices, zero biases."""
    w_enc = (
        (torch.randn(d, n_users, generator=gen) / math.sqrt(max(n_users, 1)))
        .to(dev)
        .requires_grad_()
    )
    b_enc = torch.zeros(d, device=dev, requires_grad=True)
    w_dec = (torch.randn(n_users, d, generator=gen) / math.sqrt(d)).to(dev).requires_grad_()
    b_dec = torch.zeros(n_users, device=dev, requires_grad=True)
    return [w_enc, b_enc, w_dec, b_dec]


def _codes(full: torch.Tensor, w_enc: torch.Tensor, b_enc: torch.Tensor) -> torch.Tensor:
    """Every item's code H = sigmoid(R W_enc^T + b_enc)."""
    return torch.sigmoid(torch.sparse.mm(full, w_enc.T) + b_enc)


def _train_epoch(
    batches: list[_Block],
    params: list[torch.Tensor],
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    dense: bool,
    reg: float,
    n_total: float,
) -> None:
    """One pass over the blocks: one optimiser and schedule step per block."""
    w_enc, b_enc, w_dec, b_dec = params
    for pattern, ub, _ib, rb, sp in batches:
        if dense:
            x = sp.to_dense()
            h = torch.sigmoid(x @ w_enc.T + b_enc)
            err = ((h @ w_dec.T + b_dec) - x) * (x != 0)
        else:
            h = torch.sigmoid(torch.sparse.mm(sp, w_enc.T) + b_enc)
            # decoder only at observed cells (SDDMM; ~7x faster on CPU than gathering rows)
            dot = torch.sparse.sampled_addmm(pattern, h, w_dec.T, beta=0.0).values()
            err = dot + b_dec[ub] - rb
        frac = rb.numel() / n_total
        loss = 0.5 * (err**2).sum() + 0.5 * reg * frac * (
            w_enc.pow(2).sum() + w_dec.pow(2).sum()
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()


def _validation_rmse(
    full: torch.Tensor,
    params: list[torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    clip: tuple[float, float],
) -> float:
    """RMSE of the clipped predicted ratings on the validation cells."""
    w_enc, b_enc, w_dec, b_dec = params
    vu, vi, vr = validation
    with torch.no_grad():
        h = _codes(full, w_enc, b_enc)
        p = ((h[vi] * w_dec[vu]).sum(1) + b_dec[vu]).clamp(*clip)
        return float(torch.sqrt(((p - vr) ** 2).mean()))


def train_autorec(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    config: RankerConfig,
    *,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    clip: tuple[float, float] = (-math.inf, math.inf),
    stop_epoch: int | None = None,
    progress: bool = True,
    desc: str = "training ranker",
) -> AutoRecWeights:
    """Fit I-AutoRec on ratings already shifted so every observed value is >= 1 (0 = unrated).

    With `validation` (users, items, ratings in the same shifted space) the best weights by
    validation RMSE are kept and training stops after `patience` checks without improvement.
    `stop_epoch` ends training after that many epochs (the lr schedule still spans `epochs`).
    """
    from tqdm.auto import tqdm

    dev = pick_device(config.device)
    gen = torch.Generator().manual_seed(config.seed)
    batches, full, dense = _rating_blocks(users, items, ratings, n_users, n_items, config, dev)
    params = _initial_weights(n_users, config.embedding_size, gen, dev)
    opt = torch.optim.Adam(params, lr=config.learning_rate)
    steps = config.epochs * len(batches)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.learning_rate, total_steps=steps, pct_start=WARMUP
    )
    warmup = int(WARMUP * config.epochs)
    n_total = float(len(ratings))
    val = None
    if validation is not None:
        vu, vi, vr = (torch.as_tensor(a).to(dev) for a in validation)
        val = (vu.long(), vi.long(), vr.float())

    best: tuple[float, int, list[torch.Tensor] | None] = (math.inf, -1, None)
    history: list[dict] = []
    checks_without_gain = 0
    last_epoch = min(stop_epoch or config.epochs, config.epochs)
    bar = tqdm(range(last_epoch), desc=desc, unit="epoch", disable=not progress, leave=False)
    epoch_seconds: list[float] = []
    for epoch in bar:
        t_epoch = time.perf_counter()
        _train_epoch(batches, params, opt, sched, dense, config.reg, n_total)
        epoch_seconds.append(time.perf_counter() - t_epoch)
        if val is not None and ((epoch + 1) % config.eval_every == 0 or epoch + 1 == last_epoch):
            val_rmse = _validation_rmse(full, params, val, clip)
            history.append({"epoch": epoch + 1, "val_rmse": round(val_rmse, 5)})
            bar.set_postfix(val_rmse=f"{val_rmse:.4f}")
            if val_rmse < best[0] - 1e-5:
                best = (val_rmse, epoch + 1, [q.detach().clone() for q in params])
                checks_without_gain = 0
            elif epoch + 1 > warmup:  # the one-cycle warm-up may look worse before it gets better
                checks_without_gain += 1
                if checks_without_gain >= config.patience:
                    break
    bar.close()
    if best[2] is not None:
        with torch.no_grad():
            for p, saved in zip(params, best[2]):
                p.copy_(saved)
        best_epoch = best[1]
    else:
        best_epoch = last_epoch
    w_enc, b_enc, w_dec, b_dec = params
    with torch.no_grad():
        h = _codes(full, w_enc, b_enc)
    return AutoRecWeights(
        item_codes=h.cpu().numpy().astype(np.float32),
        user_factors=w_dec.detach().cpu().numpy().astype(np.float32),
        user_bias=b_dec.detach().cpu().numpy().astype(np.float32),
        history=history,
        best_epoch=best_epoch,
        epoch_seconds=epoch_seconds,
        dense=bool(dense),
    )


def train_ease(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, reg: float,
               device: str = "auto") -> np.ndarray:
    """EASE (Steck 2019): B = I - P / diag(P) with P = (X^T X + reg I)^-1, diag(B) = 0.

    X is the binary user-item matrix of who rated what. Returns B (n_items, n_items) float32.
    Only items someone rated enter the inverse: an unrated item's row and column of X^T X + reg I
    are reg on the diagonal alone, so its row and column of B are exactly 0. X^T X + reg I is
    symmetric positive definite, so P comes from its Cholesky factor (half the work of an LU
    inverse, the same P to float64 rounding).

    >>> b = train_ease(np.array([0, 0, 1]), np.array([0, 1, 1]), 2, 3, reg=1.0)
    >>> b.shape, bool((b[2] == 0).all() and (b[:, 2] == 0).all()), float(b[0, 0])
    ((3, 3), True, 0.0)
    """
    dev = pick_device(device)
    rated = np.unique(items)
    x = torch.zeros(n_users, len(rated), dtype=torch.float64, device=dev)
    x[
        torch.as_tensor(users, device=dev),
        torch.as_tensor(np.searchsorted(rated, items), device=dev),
    ] = 1.0
    g = x.T @ x
    del x
    g.diagonal().add_(reg)
    p = torch.cholesky_inverse(torch.linalg.cholesky(g))
    del g
    b = -p / p.diagonal()
    b.fill_diagonal_(0.0)
    if len(rated) == n_items:
        return b.to(torch.float32).cpu().numpy()
    out = np.zeros((n_items, n_items), dtype=np.float32)
    out[np.ix_(rated, rated)] = b.to(torch.float32).cpu().numpy()
    return out
