"""Turn user data (DataFrames, Arrow tables, arrays, dicts, records) into named columns.

pandas and pyarrow are never imported here unless the caller passed one of their objects
(detected by the object's type module).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

NUMERIC = "numeric"
CATEGORICAL = "categorical"
EMBEDDING = "embedding"


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def is_pandas(obj: Any) -> bool:
    return _module(obj).startswith("pandas")


def is_arrow(obj: Any) -> bool:
    return _module(obj).startswith("pyarrow")


def columns(data: Any) -> dict[str, Any]:
    """Named columns of ``data``: numpy arrays (or pandas/arrow columns for categories)."""
    if is_pandas(data):
        if hasattr(data, "columns"):
            return {str(name): data[name] for name in data.columns}
        return {str(data.name if data.name is not None else "value"): data}
    if is_arrow(data):
        if hasattr(data, "column_names"):
            return {str(name): data.column(name) for name in data.column_names}
        return {"value": data}
    if isinstance(data, Mapping):
        return {str(k): v for k, v in data.items()}
    if isinstance(data, np.ndarray):
        if data.dtype.names:
            return {str(n): data[n] for n in data.dtype.names}
        if data.ndim == 1:
            return {"value": data}
        if data.ndim == 2:
            return {str(i): data[:, i] for i in range(data.shape[1])}
        raise TypeError(f"unsupported array shape {data.shape}")
    if isinstance(data, (list, tuple)):
        if not data:
            return {}
        if isinstance(data[0], Mapping):
            keys: dict[str, None] = {}
            for row in data:
                for k in row:
                    keys.setdefault(str(k), None)
            return {k: [row.get(k) for row in data] for k in keys}
        return {"value": list(data)}
    raise TypeError(f"unsupported data type {type(data).__name__}")


def kind_of(col: Any) -> str:
    """``numeric``, ``categorical`` or ``embedding`` for one column."""
    if is_pandas(col):
        dtype = col.dtype
        kind = getattr(dtype, "kind", "O")
        if kind in "biuf" and str(dtype) != "category":
            return NUMERIC
        if kind == "O" and len(col) and isinstance(col.iloc[0], (list, np.ndarray)):
            return EMBEDDING
        return CATEGORICAL
    if is_arrow(col):
        import pyarrow.types as pat

        t = col.type
        if pat.is_integer(t) or pat.is_floating(t) or pat.is_boolean(t):
            return NUMERIC
        if pat.is_list(t) or pat.is_fixed_size_list(t) or pat.is_large_list(t):
            return EMBEDDING
        return CATEGORICAL
    if isinstance(col, np.ndarray):
        if col.ndim == 2:
            return EMBEDDING
        if col.dtype.kind in "biuf":
            return NUMERIC
        col = col.tolist()
    values = [v for v in col if v is not None][:64] if isinstance(col, list) else []
    if not values:
        return NUMERIC
    if all(isinstance(v, (int, float, bool, np.number)) for v in values):
        return NUMERIC
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in values):
        return EMBEDDING
    return CATEGORICAL


def numeric_values(col: Any) -> npt.NDArray[np.float64]:
    """A float64 view/copy of a numeric column; missing values become NaN."""
    if is_pandas(col):
        return np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    if is_arrow(col):
        import pyarrow as pa

        floats = col.cast(pa.float64())
        return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
    if isinstance(col, np.ndarray) and col.dtype.kind in "biuf":
        return np.asarray(col, dtype=np.float64)
    return np.asarray([np.nan if v is None else v for v in col], dtype=np.float64)


def embedding_values(col: Any) -> npt.NDArray[np.float64]:
    """An (n, d) float64 matrix of an embedding column."""
    if is_arrow(col):
        col = col.to_pylist()
    elif is_pandas(col):
        col = col.tolist()
    if isinstance(col, np.ndarray) and col.ndim == 2:
        return np.asarray(col, dtype=np.float64)
    rows = list(col)
    if not rows:
        return np.zeros((0, 0))
    return np.asarray([np.asarray(r, dtype=np.float64) for r in rows], dtype=np.float64)


def take(col: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a column of any supported type."""
    if is_pandas(col):
        return col.iloc[start:stop]
    if is_arrow(col):
        return col.slice(start, stop - start)
    return col[start:stop]


def length(data: Any) -> int:
    if is_pandas(data) or isinstance(data, np.ndarray):
        return len(data)
    if is_arrow(data):
        return int(data.num_rows if hasattr(data, "num_rows") else len(data))
    if isinstance(data, Mapping):
        for v in data.values():
            return len(v)
        return 0
    return len(data)
