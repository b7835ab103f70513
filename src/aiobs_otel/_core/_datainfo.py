"""What a pipeline stage learns from a data object, without importing pandas, pyarrow or numpy.

Supported: pandas DataFrames/Series, pyarrow Tables/RecordBatches, numpy arrays, dicts of
arrays or lists, lists of dicts. The library of an object is found from its type's module, so a
pandas or pyarrow object is only inspected through its own methods.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MAX_COLUMNS = 100  # per-column rates are reported for at most this many columns
_SAMPLE_ROWS = 1000  # rows of a list of dicts inspected for types


@dataclass
class DataInfo:
    rows: int | None = None
    bytes: int | None = None
    schema: dict[str, str] = field(default_factory=dict)
    null_rate: dict[str, float] = field(default_factory=dict)
    nan_rate: dict[str, float] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        text = ";".join(f"{k}:{v}" for k, v in sorted(self.schema.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def is_data(obj: Any) -> bool:
    """Whether ``obj`` is a data object a stage should inspect."""
    module = _module(obj)
    if module.startswith(("pandas", "pyarrow")) or (module.startswith("numpy") and
                                                   hasattr(obj, "shape")):
        return True
    if isinstance(obj, Mapping):
        return bool(obj) and all(_is_column(v) for v in obj.values())
    if isinstance(obj, list):
        return bool(obj) and isinstance(obj[0], Mapping)
    return False


def _is_column(v: Any) -> bool:
    return isinstance(v, (list, tuple)) or (hasattr(v, "__len__") and hasattr(v, "dtype"))


def inspect_data(obj: Any, columns: bool = True) -> DataInfo:
    module = _module(obj)
    if module.startswith("pandas"):
        return _pandas(obj, columns)
    if module.startswith("pyarrow"):
        return _arrow(obj, columns)
    if module.startswith("numpy"):
        return _numpy(obj, columns)
    if isinstance(obj, Mapping):
        return _dict_of_columns(obj, columns)
    if isinstance(obj, list):
        return _records(obj, columns)
    try:
        return DataInfo(rows=len(obj))
    except TypeError:
        return DataInfo()


def _pandas(df: Any, columns: bool) -> DataInfo:
    if not hasattr(df, "columns"):  # a Series
        df = df.to_frame()
    info = DataInfo(rows=len(df))
    try:
        info.bytes = int(df.memory_usage(index=False, deep=False).sum())
    except Exception:
        info.bytes = None
    info.schema = {str(c): str(t) for c, t in df.dtypes.items()}
    if columns and info.rows:
        nulls = df.isna().sum()
        for i, (name, count) in enumerate(nulls.items()):
            if i >= MAX_COLUMNS:
                break
            info.null_rate[str(name)] = float(count) / info.rows
            if getattr(df.dtypes.iloc[i], "kind", "") == "f":
                info.nan_rate[str(name)] = float(count) / info.rows
    return info


def _arrow(table: Any, columns: bool) -> DataInfo:
    if not hasattr(table, "schema"):  # an Array / ChunkedArray
        info = DataInfo(rows=len(table), bytes=int(getattr(table, "nbytes", 0)) or None)
        info.schema = {"": str(table.type)}
        return info
    info = DataInfo(rows=int(table.num_rows), bytes=int(table.nbytes))
    info.schema = {f.name: str(f.type) for f in table.schema}
    if columns and info.rows:
        for i, f in enumerate(table.schema):
            if i >= MAX_COLUMNS:
                break
            col = table.column(f.name)
            info.null_rate[f.name] = col.null_count / info.rows
            if str(f.type) in ("double", "float", "halffloat"):
                import pyarrow.compute as pc  # the caller passed a pyarrow object

                nan = pc.sum(pc.is_nan(col)).as_py() or 0
                info.nan_rate[f.name] = float(nan) / info.rows
    return info


def _numpy(arr: Any, columns: bool) -> DataInfo:
    import numpy as np  # the caller passed a numpy object

    info = DataInfo(rows=int(arr.shape[0]) if arr.ndim else 1, bytes=int(arr.nbytes))
    if arr.dtype.names:
        info.schema = {n: str(arr.dtype[n]) for n in arr.dtype.names}
        if columns and info.rows:
            for n in arr.dtype.names[:MAX_COLUMNS]:
                if arr.dtype[n].kind == "f":
                    rate = float(np.isnan(arr[n]).mean())
                    info.nan_rate[n] = info.null_rate[n] = rate
        return info
    info.schema = {"": f"{arr.dtype}{list(arr.shape[1:])}"}
    if columns and info.rows and arr.dtype.kind == "f":
        rate = float(np.isnan(arr).mean())
        info.nan_rate[""] = info.null_rate[""] = rate
    return info


def _type_name(v: Any) -> str:
    if hasattr(v, "dtype"):
        return str(v.dtype)
    return type(v).__name__


def _list_rates(values: Any) -> tuple[float, float]:
    n = len(values)
    if not n:
        return 0.0, 0.0
    nulls = sum(1 for v in values if v is None)
    nans = sum(1 for v in values if isinstance(v, float) and math.isnan(v))
    return (nulls + nans) / n, nans / n


def _dict_of_columns(data: Mapping[str, Any], columns: bool) -> DataInfo:
    info = DataInfo()
    total_bytes = 0
    known_bytes = True
    for i, (name, col) in enumerate(data.items()):
        key = str(name)
        if info.rows is None:
            info.rows = len(col)
        if hasattr(col, "dtype"):
            info.schema[key] = str(col.dtype)
            nbytes = getattr(col, "nbytes", None)
            if nbytes is None:
                known_bytes = False
            else:
                total_bytes += int(nbytes)
            if columns and i < MAX_COLUMNS and len(col):
                if col.dtype.kind == "f":
                    import numpy as np

                    rate = float(np.isnan(col).mean())
                    info.null_rate[key] = info.nan_rate[key] = rate
                elif col.dtype.kind == "O":
                    info.null_rate[key], info.nan_rate[key] = _list_rates(list(col))
                else:
                    info.null_rate[key] = 0.0
        else:
            known_bytes = False
            first = next((v for v in col if v is not None), None)
            info.schema[key] = _type_name(first) if first is not None else "null"
            if columns and i < MAX_COLUMNS:
                info.null_rate[key], info.nan_rate[key] = _list_rates(col)
    info.bytes = total_bytes if known_bytes and data else None
    return info


def _records(rows: list[Any], columns: bool) -> DataInfo:
    info = DataInfo(rows=len(rows))
    sample = rows[:_SAMPLE_ROWS]
    for row in sample:
        for k, v in row.items():
            key = str(k)
            if v is not None and info.schema.get(key, "null") == "null":
                info.schema[key] = _type_name(v)
            else:
                info.schema.setdefault(key, "null")
    if columns and rows:
        for i, key in enumerate(info.schema):
            if i >= MAX_COLUMNS:
                break
            values = [row.get(key) for row in rows]
            info.null_rate[key], info.nan_rate[key] = _list_rates(values)
    return info


def newest_timestamp(obj: Any, column: str) -> float | None:
    """The newest value of ``column`` as epoch seconds (None if absent or empty)."""
    module = _module(obj)
    values: Any
    if module.startswith("pandas"):
        if column not in obj.columns:
            return None
        col = obj[column]
        newest = col.max()
        return _epoch(newest)
    if module.startswith("pyarrow"):
        if column not in obj.column_names:
            return None
        import pyarrow.compute as pc

        return _epoch(pc.max(obj.column(column)).as_py())
    if isinstance(obj, Mapping):
        values = obj.get(column)
    elif isinstance(obj, list):
        values = [row.get(column) for row in obj]
    elif module.startswith("numpy") and obj.dtype.names and column in obj.dtype.names:
        values = obj[column]
    else:
        return None
    if values is None or len(values) == 0:
        return None
    if hasattr(values, "dtype") and hasattr(values, "max"):
        latest: float | None = _epoch(values.max())
        return latest
    present = [v for v in values if v is not None]
    return _epoch(max(present)) if present else None


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        if str(value) == "NaT":
            return None
        value = value.to_pydatetime()
    if _module(value).startswith("numpy") and hasattr(value, "dtype"):
        kind = value.dtype.kind
        if kind == "M":
            import numpy as np

            if np.isnat(value):
                return None
            return float(value.astype("datetime64[ns]").astype("int64")) / 1e9
        value = value.item()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        stamp: float = value.timestamp()
        return stamp
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None
