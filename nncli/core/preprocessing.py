"""Numerical preprocessing shared by training and prediction (NumPy only).

Registries by name, as in YAML: ``SCALERS`` (data.scaling), ``IMPUTERS`` (data.impute)
and ``TARGET_TRANSFORMS`` (data.target_transform, each forward next to its inverse);
``soft_clip`` is the smooth clipping of data.clip.
"""

import numpy as np

from nncli.core.registry import lookup


# --- scaling: (center, scale) of one column of training values -----------------------
def standard(x):
    """Mean and standard deviation of ``x``, ndarray of shape (m,)."""
    return x.mean(), x.std()


def robust(x):
    """Median and interquartile range q75 − q25 of ``x``; the standard deviation when the IQR is 0."""
    q25, median, q75 = np.percentile(x, [25, 50, 75])
    iqr = q75 - q25
    return median, iqr if iqr > 0 else x.std()


def no_scaling(x):
    return 0.0, 1.0


SCALERS = {"standard": standard, "robust": robust, "none": no_scaling}


def get_scaler(name):
    return lookup(SCALERS, name, "scaling")


# --- imputation: the value that stands in for a missing one -------------------------
def most_frequent(values):
    """The most frequent of ``values`` (ndarray of shape (m,)); ties go to the smallest."""
    uniques, counts = np.unique(values, return_counts=True)
    return uniques[int(np.argmax(counts))]


IMPUTERS = {"mean": np.mean, "median": np.median, "most_frequent": most_frequent}


def get_imputer(name):
    return lookup(IMPUTERS, name, "impute strategy")


# --- smooth clipping ------------------------------------------------------------------
def soft_clip(A, c):
    """x / sqrt(1 + (x / c)²) per column: about x near 0, tending to ±c far away (RealMLP).

    Parameters
    ----------
    A : ndarray of shape (m, n_features), scaled inputs
    c : ndarray of shape (n_features,), the bound per feature; 0 leaves a feature as it is

    Returns
    -------
    ndarray of shape (m, n_features), same dtype as A
    """
    clipped = c > 0
    out = A.copy()
    cols = A[:, clipped]
    out[:, clipped] = cols / np.sqrt(1 + (cols / c[clipped].astype(A.dtype)) ** 2)
    return out


# --- target transforms: forward (fitted on) and inverse (predictions) ------------------
def identity(y):
    return y


TARGET_TRANSFORMS = {
    "none": (identity, identity),
    "log1p": (np.log1p, np.expm1),  # needs y > -1
}


def get_target_transform(name):
    """(forward, inverse) of a target transform by name."""
    return lookup(TARGET_TRANSFORMS, name, "target_transform")
