"""Quality metrics reported next to the loss (NumPy only).

Y and A are of shape (m, n_outputs) as in ``nncli.core.losses``; regression metrics are
given in the target's own units, undoing the target standardisation.
"""

import numpy as np


def predicted_classes(A):
    """Class index per row: the largest softmax output, or sigmoid output >= 0.5."""
    if A.shape[1] == 1:
        return (A[:, 0] >= 0.5).astype(np.int64)
    return A.argmax(axis=1)


def true_classes(Y):
    """Class index per row of 0/1 targets (one column) or one-hot targets."""
    if Y.shape[1] == 1:
        return Y[:, 0].astype(np.int64)
    return Y.argmax(axis=1)


def classification_metrics(Y, A):
    """Accuracy, balanced accuracy and macro F1 of the predicted classes; ROC-AUC of the
    scores for one sigmoid output (binary).

    Returns
    -------
    dict: accuracy (fraction of rows whose predicted class is the true one),
    balanced_accuracy, macro_f1 (see ``balanced_accuracy`` and ``macro_f1``), and for
    binary roc_auc (nan when the rows hold one class only)
    """
    true, predicted = true_classes(Y), predicted_classes(A)
    C = confusion_matrix(true, predicted, max(Y.shape[1], 2))
    out = {"accuracy": float(np.mean(predicted == true)),
           "balanced_accuracy": balanced_accuracy(C), "macro_f1": macro_f1(C)}
    if A.shape[1] == 1:
        out["roc_auc"] = roc_auc(true, A[:, 0])
    return out


def balanced_accuracy(C):
    """The mean recall over the classes present in the truth (scikit-learn's
    ``balanced_accuracy_score``), from a confusion matrix C (rows: truth)."""
    support = C.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(C)[present] / support[present]))


def macro_f1(C):
    """The mean F1 over the classes present in the truth or the predictions (scikit-learn's
    ``f1_score(average="macro")``, 0 where undefined), from a confusion matrix C."""
    used = (C.sum(axis=0) + C.sum(axis=1)) > 0
    return float(np.mean(class_scores(C)["f1"][used]))


def average_ranks(x):
    """Ranks 1..m of the values of ``x`` (shape (m,)), ties given the mean of their ranks."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Runs of equal values: each gets the mean of the ranks start+1 .. end.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(true, scores):
    """Area under the ROC curve, by ranks (Mann-Whitney U): the probability that a random
    positive scores above a random negative, ties counting one half.

    Parameters
    ----------
    true : ndarray of shape (m,), 1 for the positive class, 0 for the negative
    scores : ndarray of shape (m,), higher means more likely positive

    Returns
    -------
    float: (sum of the positives' ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg), nan if
    either class is absent
    """
    positive = np.asarray(true) == 1
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(np.asarray(scores, np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metrics(Y, A, y_mean=0.0, y_std=1.0, inverse=None):
    """RMSE, MAE and R^2 of the predictions, in the target's own units.

    ``inverse`` undoes a target transform (e.g. ``np.expm1`` for log1p) after the
    standardisation is undone.
    """
    y = np.asarray(Y, np.float64) * y_std + y_mean
    y_hat = np.asarray(A, np.float64) * y_std + y_mean
    if inverse is not None:
        with np.errstate(over="ignore"):
            y, y_hat = inverse(y), inverse(y_hat)
    sums = RegressionSums()
    sums.add(y.ravel(), y_hat.ravel())
    return sums.metrics()


def metric_function(task, y_mean=0.0, y_std=1.0, inverse=None):
    """Return f(Y, A) -> dict of metrics for a task (regression | binary | multiclass)."""
    if task == "regression":
        return lambda Y, A: regression_metrics(Y, A, y_mean, y_std, inverse)
    return classification_metrics


# --- evaluation of a saved model, accumulated over chunks of rows -------------------
def confusion_matrix(true, predicted, n_classes):
    """Counts of (true class, predicted class) pairs.

    Parameters
    ----------
    true, predicted : int ndarrays of shape (m,), class indices in 0..n_classes-1

    Returns
    -------
    C : int64 ndarray of shape (n_classes, n_classes); C[i, j] counts rows of class i
        predicted as class j (rows: truth, columns: prediction)
    """
    pairs = np.asarray(true, np.int64) * n_classes + np.asarray(predicted, np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy_from_confusion(C):
    """The fraction of rows on the diagonal of a confusion matrix."""
    return float(np.trace(C) / C.sum())


def class_scores(C):
    """Per-class precision, recall, F1 and support from a confusion matrix.

    A score whose denominator is zero (a class never predicted, or absent from the
    data) is reported as 0.0, as scikit-learn does with ``zero_division=0``.

    Returns
    -------
    dict of ndarrays of shape (n_classes,): precision, recall, f1 (float64), support (int64)
    """
    tp = np.diag(C).astype(np.float64)
    predicted, support = C.sum(axis=0), C.sum(axis=1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def _ratio(num, den):
    out = np.zeros(len(num))
    np.divide(num, den, out=out, where=den > 0)
    return out


class RegressionSums:
    """Running sums giving RMSE, MAE and R^2 over chunks of rows, in the target's units.

    The spread of the target (R^2's denominator) is merged chunk by chunk with Chan et
    al.'s update of (count, mean, M2), which stays accurate when the target's mean is
    large compared with its spread, unlike sum(y^2) - n mean^2.
    """

    def __init__(self):
        self.n, self.sse, self.sae, self.mean, self.m2 = 0, 0.0, 0.0, 0.0, 0.0

    def add(self, y, y_hat):
        """Add a chunk: ``y`` and ``y_hat`` of shape (m,), true and predicted values."""
        y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
        m = len(y)
        if m == 0:
            return
        err = y_hat - y
        self.sse += float(err @ err)
        self.sae += float(np.abs(err).sum())
        mean = float(y.mean())
        m2 = float(((y - mean) ** 2).sum())
        n = self.n + m
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.n * m / n
        self.mean += delta * m / n
        self.n = n

    def metrics(self):
        """{"rmse", "mae", "r2"} so far; r2 is nan for a constant target."""
        return {
            "rmse": float(np.sqrt(self.sse / self.n)),
            "mae": self.sae / self.n,
            "r2": 1.0 - self.sse / self.m2 if self.m2 > 0 else float("nan"),
        }
