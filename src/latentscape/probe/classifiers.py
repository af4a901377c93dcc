"""Scoring an embedding by how well simple classifiers read the class from it.

Protocol (recorded with every result): a standard scaler fitted on the training codes, then
multinomial logistic regression (L2, lbfgs) and k-nearest neighbours (Euclidean, uniform
votes), fitted on the training split and scored on the test split (accuracy = fraction correct).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from latentscape.errors import LatentscapeError, did_you_mean
from latentscape.probe import costs
from latentscape.progress import StageFn, silent

CLASSIFIERS = ("logreg", "knn")


@dataclass(frozen=True)
class ProbeProtocol:
    """Classifier settings (all recorded in the JSON output)."""

    logreg_c: float = 1.0
    logreg_max_iter: int = 1000
    knn_k: int = 5
    scaler: str = "standard (mean/std of the training codes)"
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def check_classifiers(names: list[str]) -> list[str]:
    for name in names:
        if name not in CLASSIFIERS:
            raise LatentscapeError(f"unknown classifier {name!r}{did_you_mean(name, CLASSIFIERS)} (allowed: {', '.join(CLASSIFIERS)})")
    if not names:
        raise LatentscapeError("--classifiers: name at least one classifier")
    return names


def score(
    train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
    classifiers: list[str], protocol: ProbeProtocol, stage: StageFn = silent,
) -> dict[str, float]:
    """Test accuracy and fit seconds of each classifier on scaled codes; `stage(what,
    estimate=seconds)` wraps each classifier's fit and test predictions (progress lines).

    Returns:
        {"<clf>_acc": fraction in [0, 1], "<clf>_fit_s": seconds} for each classifier.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2:
        raise LatentscapeError("the training split needs at least two classes to probe")
    scaler = StandardScaler().fit(train)
    a, b = scaler.transform(train), scaler.transform(test)
    out: dict[str, float] = {}
    n, d = a.shape
    for name in check_classifiers(classifiers):
        if name == "logreg":
            clf = LogisticRegression(C=protocol.logreg_c, max_iter=protocol.logreg_max_iter,
                                     random_state=protocol.seed)
            what = f"logistic regression on {n} training codes ({d}-d)"
            estimate = costs.logreg_seconds(n, d, protocol.logreg_max_iter, len(np.unique(y_train)))
        else:
            clf = KNeighborsClassifier(n_neighbors=min(protocol.knn_k, len(a)))
            what = f"kNN (k={clf.n_neighbors}) of {len(b)} test codes among {n} ({d}-d)"
            estimate = costs.knn_seconds(n, len(b), d)
        with stage(what, estimate=estimate):
            start = time.perf_counter()
            clf.fit(a, y_train)
            out[f"{name}_fit_s"] = time.perf_counter() - start
            out[f"{name}_acc"] = float(np.mean(clf.predict(b) == y_test))
    return out
