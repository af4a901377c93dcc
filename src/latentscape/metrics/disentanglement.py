"""Disentanglement metrics: codes (N, D) and ground-truth factor indices (N, K) in, numbers out.

Pure functions (numpy / scikit-learn), no model: `metrics/disentanglement_eval.py` embeds a split
and calls them for `latentscape eval --metrics mig,factorvae,dci`. Every random draw comes from
`seed`, so a metric is deterministic for given arrays; nothing depends on how the codes were
batched when they were computed.

- MIG: Chen, Li, Grosse & Duvenaud (2018), "Isolating Sources of Disentanglement in VAEs", eq. 6.
- FactorVAE metric: Kim & Mnih (2018), "Disentangling by Factorising", section 4.
- DCI: Eastwood & Williams (2018), "A Framework for the Quantitative Evaluation of Disentangled
  Representations", section 2 (disentanglement D, completeness C, informativeness I).
"""

from __future__ import annotations

import numpy as np


def _check(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or codes.shape[0] != factors.shape[0]:
        raise ValueError(f"codes (N, D) and factors (N, K) with the same N expected, got "
                         f"{codes.shape} and {factors.shape}")
    if codes.shape[0] < 2:
        raise ValueError("at least two examples are needed")
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or infinite values")
    return codes, factors


def discretize(codes: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Equal-width histogram bins per code dimension (as disentanglement_lib does for MIG).

    Args:
        codes: float (N, D).
        num_bins: bins per dimension over [min, max] of that dimension.

    Returns:
        int64 (N, D) bin indices in [0, num_bins).
    """
    codes = np.asarray(codes, dtype=np.float64)
    low, high = codes.min(axis=0), codes.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    bins = np.floor((codes - low) / width * num_bins).astype(np.int64)  # (N, D)
    return np.clip(bins, 0, num_bins - 1)


def _labels(values: np.ndarray) -> np.ndarray:
    """Any 1-D array -> consecutive int labels 0..M-1."""
    return np.unique(values, return_inverse=True)[1].reshape(-1)


def entropy(labels: np.ndarray) -> float:
    """Plug-in entropy H(v) in nats of a discrete variable (N,)."""
    counts = np.bincount(_labels(labels)).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information I(a; b) in nats of two discrete variables (N,)."""
    ia, ib = _labels(a), _labels(b)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia, ib), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def mutual_info_matrix(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) (D, K) in nats between discretised code dimensions and factors."""
    codes, factors = _check(codes, factors)
    disc = discretize(codes, num_bins)
    return np.array([[mutual_information(disc[:, j], factors[:, k]) for k in range(factors.shape[1])]
                     for j in range(disc.shape[1])])


def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> dict[str, float]:
    """Mutual Information Gap (Chen et al. 2018, eq. 6).

    MIG = 1/K sum_k 1/H(v_k) (I(z_{j(k)}; v_k) - max_{j != j(k)} I(z_j; v_k)), j(k) = argmax_j
    I(z_j; v_k), with I estimated on equal-width-binned codes. Factors with a single value
    (H = 0) carry no information and are left out. In [0, 1]: 1 when each factor is captured
    by exactly one code dimension, about 0 when no dimension is specific to a factor.

    Args:
        codes: float (N, D) representations (D >= 2).
        factors: discrete factor values (N, K).
        num_bins: histogram bins per code dimension.

    Returns:
        {"mig": mean gap, "mig_<k>": gap of factor k}.
    """
    codes, factors = _check(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError("MIG needs a code of at least two dimensions")
    mi = mutual_info_matrix(codes, factors, num_bins)  # (D, K)
    gaps: dict[str, float] = {}
    for k in range(factors.shape[1]):
        h = entropy(factors[:, k])
        if h <= 0:
            continue
        top2 = np.sort(mi[:, k])[::-1][:2]
        gaps[f"mig_{k}"] = float((top2[0] - top2[1]) / h)
    if not gaps:
        raise ValueError("every factor is constant: MIG is undefined")
    return {"mig": float(np.mean(list(gaps.values()))), **gaps}


def factorvae_score(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    batch_size: int = 64,
    num_train: int = 5000,
    num_eval: int = 2500,
    variance_threshold: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """FactorVAE disentanglement metric (Kim & Mnih 2018, section 4), on a finite dataset.

    Each vote fixes one factor k (drawn uniformly) at the value of a random example, takes
    `batch_size` examples sharing that value, divides the codes by their standard deviation over
    the whole dataset, and records (d*, k) with d* = argmin_d Var_batch(z_d / s_d) over the
    active dimensions (empirical variance >= `variance_threshold`; collapsed dimensions would win
    every vote). A majority-vote classifier d -> argmax_k count(d, k) is fitted on `num_train`
    votes and its accuracy measured on `num_eval` fresh votes. 1 when fixing any factor freezes
    its own dimension; chance (about 1/K) for an uninformative code.

    Returns:
        {"factorvae": eval accuracy, "factorvae_train": train accuracy, "factorvae_active_dims": n}.
    """
    codes, factors = _check(codes, factors)
    num_dims, num_factors = codes.shape[1], factors.shape[1]
    variances = codes.var(axis=0)
    active = variances >= variance_threshold
    if not active.any():
        raise ValueError(f"no code dimension has variance >= {variance_threshold}: the code collapsed")
    scale = np.sqrt(np.where(active, variances, 1.0))
    normalised = codes / scale  # (N, D)
    rng = np.random.default_rng(seed)
    # groups[k][value] -> indices of the examples whose factor k has that value
    groups = [{v: np.flatnonzero(factors[:, k] == v) for v in np.unique(factors[:, k])} for k in range(num_factors)]

    def votes(n: int) -> np.ndarray:
        counts = np.zeros((num_dims, num_factors), dtype=np.int64)
        for _ in range(n):
            k = int(rng.integers(num_factors))
            anchor = int(rng.integers(codes.shape[0]))
            pool = groups[k][factors[anchor, k]]
            chosen = rng.choice(pool, size=batch_size, replace=pool.size < batch_size)
            var = normalised[chosen].var(axis=0)  # (D,)
            var[~active] = np.inf
            counts[int(np.argmin(var)), k] += 1
        return counts

    train, test = votes(num_train), votes(num_eval)
    classifier = train.argmax(axis=1)  # (D,) majority factor of each dimension
    train_acc = train.max(axis=1).sum() / max(1, train.sum())
    eval_acc = test[np.arange(num_dims), classifier].sum() / max(1, test.sum())
    return {"factorvae": float(eval_acc), "factorvae_train": float(train_acc),
            "factorvae_active_dims": float(active.sum())}


def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy along `axis` with log base = that axis' length (so in [0, 1])."""
    base = p.shape[axis]
    if base < 2:
        return np.zeros(p.shape[1 - axis])
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log(safe)).sum(axis=axis) / np.log(base)


def dci_from_importance(importance: np.ndarray) -> dict[str, float]:
    """DCI disentanglement and completeness from an importance matrix R (D, K) >= 0.

    Eastwood & Williams (2018), section 2: P_ij = R_ij / sum_k R_ik; D_i = 1 - H_K(P_i.);
    D = sum_i rho_i D_i with rho_i = sum_k R_ik / sum_ik R_ik. Completeness
    C_j = 1 - H_D(P~_.j) with P~_ij = R_ij / sum_i R_ij, averaged over factors.
    """
    r = np.abs(np.asarray(importance, dtype=np.float64))  # (D, K)
    total = r.sum()
    if total <= 0:
        return {"dci_disentanglement": 0.0, "dci_completeness": 0.0}
    row = r.sum(axis=1, keepdims=True)
    p_dim = np.divide(r, row, out=np.full_like(r, 1.0 / r.shape[1]), where=row > 0)
    d_i = 1.0 - _normalised_entropy(p_dim, axis=1)  # (D,)
    rho = row[:, 0] / total
    col = r.sum(axis=0, keepdims=True)
    p_fac = np.divide(r, col, out=np.full_like(r, 1.0 / r.shape[0]), where=col > 0)
    c_j = 1.0 - _normalised_entropy(p_fac, axis=0)  # (K,)
    return {"dci_disentanglement": float((rho * d_i).sum()), "dci_completeness": float(c_j.mean())}


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    regressor: str = "random_forest",
    train_fraction: float = 0.8,
    seed: int = 0,
    n_estimators: int = 50,
    lasso_alpha: float = 0.02,
) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018): disentanglement, completeness, informativeness.

    One regressor per factor predicts the standardised factor from the standardised code, as the
    paper does (random forest importances or absolute lasso weights form R (D, K)). They report
    informativeness as prediction error (NRMSE); we report 1 - NRMSE^2 on the held-out part
    (R^2, clipped to [0, 1]) so that, like D and C, higher is better.

    Args:
        codes: float (N, D).
        factors: (N, K) factor values.
        regressor: "random_forest" or "lasso".
        train_fraction: part of the (seeded, shuffled) examples used to fit the regressors.
        seed: shuffling and forest seed.
        n_estimators: trees per forest.
        lasso_alpha: lasso regularisation.

    Returns:
        {"dci_disentanglement", "dci_completeness", "dci_informativeness"}, each in [0, 1].
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Lasso

    codes, factors = _check(codes, factors)
    if regressor not in ("random_forest", "lasso"):
        raise ValueError(f"regressor must be random_forest or lasso, got {regressor!r}")
    n = codes.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    cut = min(n - 1, max(1, int(round(train_fraction * n))))
    train, test = order[:cut], order[cut:]

    def standardise(a: np.ndarray) -> np.ndarray:
        mean, std = a[train].mean(axis=0), a[train].std(axis=0)
        return (a - mean) / np.where(std > 0, std, 1.0)

    z, v = standardise(codes), standardise(factors.astype(np.float64))
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    scores = []
    for k in range(factors.shape[1]):
        if regressor == "random_forest":
            model = RandomForestRegressor(n_estimators=n_estimators, max_depth=8, random_state=seed, n_jobs=1)
            model.fit(z[train], v[train, k])
            importance[:, k] = model.feature_importances_
        else:
            model = Lasso(alpha=lasso_alpha, max_iter=5000)
            model.fit(z[train], v[train, k])
            importance[:, k] = np.abs(model.coef_)
        residual = np.mean((model.predict(z[test]) - v[test, k]) ** 2)
        variance = np.var(v[test, k])
        scores.append(0.0 if variance <= 0 else float(np.clip(1.0 - residual / variance, 0.0, 1.0)))
    return {**dci_from_importance(importance), "dci_informativeness": float(np.mean(scores))}
