"""Quality metrics reported next to the loss (NumPy only).

Y and A are of shape (m, n_outputs) as in ``nncli.losses``; regression metrics are
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
    """{"accuracy": fraction of rows whose predicted class is the true one}."""
    return {"accuracy": float(np.mean(predicted_classes(A) == true_classes(Y)))}


def regression_metrics(Y, A, y_mean=0.0, y_std=1.0):
    """RMSE, MAE and R^2 of the predictions, in the target's own units."""
    y = np.asarray(Y, np.float64) * y_std + y_mean
    y_hat = np.asarray(A, np.float64) * y_std + y_mean
    err = y_hat - y
    ss_tot = float(((y - y.mean(axis=0)) ** 2).sum())
    ss_res = float((err**2).sum())
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        # R^2 is undefined for a constant target; report nan rather than divide by zero.
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
    }


def metric_function(task, y_mean=0.0, y_std=1.0):
    """Return f(Y, A) -> dict of metrics for a task (regression | binary | multiclass)."""
    if task == "regression":
        return lambda Y, A: regression_metrics(Y, A, y_mean, y_std)
    return classification_metrics
