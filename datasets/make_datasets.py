"""Regenerate the scikit-learn-derived CSVs in this folder.

Usage (from the repository root):

    pip install scikit-learn pandas
    python datasets/make_datasets.py

Only scikit-learn's *bundled* loaders (load_*) are used: the data ships inside
the scikit-learn wheel, so no network access is needed. No fetch_* function is
called. Output: iris.csv, breast_cancer.csv, diabetes.csv, digits.csv, wine.csv
(house_prices.csv is made by make_house_prices.py instead).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)

OUT_DIR = Path(__file__).resolve().parent


def snake(name: str) -> str:
    """'mean concave points' -> 'mean_concave_points', 'od280/od315_x' -> 'od280_od315_x'."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def integral_to_int(df: pd.DataFrame) -> pd.DataFrame:
    """Write columns whose values are all whole numbers as integers (e.g. 127, not 127.0)."""
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_float_dtype(s) and (s == s.round()).all():
            df[col] = s.astype("int64")
    return df


def write(df: pd.DataFrame, name: str) -> None:
    assert not df.isna().any().any(), f"{name}: missing values"
    path = OUT_DIR / name
    # pandas writes floats with repr(), i.e. the shortest text that round-trips,
    # so values come out exactly as scikit-learn ships them (5.1, not 5.1000000000001).
    df.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    print(f"wrote {path.name}: {df.shape[0]} rows x {df.shape[1]} columns")


def make_iris() -> None:
    b = load_iris()
    df = pd.DataFrame(
        b.data, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"]
    )
    df["species"] = [str(b.target_names[t]) for t in b.target]
    write(df, "iris.csv")


def make_breast_cancer() -> None:
    b = load_breast_cancer()
    df = pd.DataFrame(b.data, columns=[snake(c) for c in b.feature_names])
    df["diagnosis"] = [str(b.target_names[t]) for t in b.target]  # malignant / benign
    write(df, "breast_cancer.csv")


def make_diabetes() -> None:
    kwargs = {}
    if "scaled" in inspect.signature(load_diabetes).parameters:  # scikit-learn >= 1.1
        kwargs["scaled"] = False  # original units, not mean-centred / scaled
    b = load_diabetes(**kwargs)
    df = pd.DataFrame(b.data, columns=[snake(c) for c in b.feature_names])
    df["progression"] = b.target
    if kwargs:
        df = integral_to_int(df)
    write(df, "diabetes.csv")


def make_digits() -> None:
    b = load_digits()
    df = pd.DataFrame(b.data.astype("int64"), columns=[f"pixel_{i}" for i in range(64)])
    df["digit"] = b.target.astype("int64")
    write(df, "digits.csv")


def make_wine() -> None:
    b = load_wine()
    df = pd.DataFrame(b.data, columns=[snake(c) for c in b.feature_names])
    df = integral_to_int(df)
    df["cultivar"] = [str(b.target_names[t]) for t in b.target]  # class_0 / class_1 / class_2
    write(df, "wine.csv")


def main() -> None:
    make_iris()
    make_breast_cancer()
    make_diabetes()
    make_digits()
    make_wine()


if __name__ == "__main__":
    main()
