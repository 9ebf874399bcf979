"""Data: catalogs, ratings, datasets (MovieLens fetch/load, CSV import) and splits."""

from genrec.data._model import Catalog, Dataset, Item, Ratings, Split, UnknownItemError
from genrec.data.importer import ColumnMap, ImportOptions, import_dataset
from genrec.data.importer import ImportError_ as DataImportError
from genrec.data.movielens import FetchError
from genrec.data.movielens import fetch as fetch_movielens
from genrec.data.movielens_latest import fetch as fetch_movielens_latest
from genrec.data.registry import (
    AUTO,
    DatasetNotInstalled,
    UnknownDatasetError,
    available,
    installed_default,
    load_dataset,
    load_split,
)
from genrec.data.splits import (
    all_ratings,
    default_split,
    make_split,
    movielens_fold,
    ratio_split,
    resolve_split,
    temporal_split,
    validation_split,
)
from genrec.data.titles import ParsedTitle, parse_title, split_title

__all__ = [
    "AUTO",
    "DatasetNotInstalled",
    "ParsedTitle",
    "fetch_movielens_latest",
    "installed_default",
    "split_title",
    "Catalog",
    "ColumnMap",
    "all_ratings",
    "default_split",
    "resolve_split",
    "DataImportError",
    "Dataset",
    "FetchError",
    "ImportOptions",
    "Item",
    "Ratings",
    "Split",
    "UnknownDatasetError",
    "UnknownItemError",
    "available",
    "fetch_movielens",
    "import_dataset",
    "load_dataset",
    "load_split",
    "make_split",
    "movielens_fold",
    "parse_title",
    "ratio_split",
    "temporal_split",
    "validation_split",
]
