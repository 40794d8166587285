"""Loading pickles that come from strangers (Uni-Sign pose pickles, CSL-Daily label files).

`pickle.load` runs whatever callable a file names. `safe_load_pickle` admits only the globals needed to rebuild
numpy arrays, numpy scalars and dtypes, and plain builtin containers; any other global (``os.system``,
``builtins.eval``, ``subprocess.Popen``, ...) is refused before it is even imported.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from typing import IO, Any


GZIP_MAGIC = b"\x1f\x8b"

# (module, name) pairs a pickle may reference. numpy moved `numpy.core` to `numpy._core` in 2.0; pickles written by
# either name both load.
_NUMPY_GLOBALS = frozenset(
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{core}.multiarray", "_reconstruct"),
        (f"{core}.multiarray", "scalar"),
        (f"{core}.numeric", "_frombuffer"),  # arrays pickled with protocol 5
    )
) | {("numpy", "ndarray"), ("numpy", "dtype")}
_BUILTIN_GLOBALS = frozenset(
    ("builtins", name)
    for name in ("list", "dict", "tuple", "set", "frozenset", "bytes", "bytearray", "str", "int", "float", "bool")
) | {
    ("collections", "OrderedDict"),
    # Protocol-2 pickles (and Python 2 ones) store array bytes as latin-1 text re-encoded with `_codecs.encode`.
    ("_codecs", "encode"),
}
ALLOWED_GLOBALS = _NUMPY_GLOBALS | _BUILTIN_GLOBALS


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle referenced a global outside `ALLOWED_GLOBALS` (it may try to run code)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], source: str):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self._source}: refused to load the global {module}.{name}; only numpy arrays, numpy scalars and "
                "plain containers are admitted in pose and label pickles. If you trust this file, load it with "
                "`pickle.load` yourself."
            )
        if module.startswith("numpy.core."):  # the numpy 2 location, without the deprecation shim
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def safe_load_pickle(path_or_fileobj: str | os.PathLike | IO[bytes]) -> Any:
    """Unpickle a file that may come from an untrusted source.

    Args:
        path_or_fileobj (`str`, `os.PathLike` or binary file object): The pickle; gzip-compressed pickles (as the
            CSL-Daily label files) are detected by their magic bytes and decompressed.

    Returns:
        The unpickled object (dicts, lists, tuples, numbers, strings, numpy arrays).

    Raises:
        `FileNotFoundError`: the path does not exist.
        `UnsafePickleError`: the pickle references a global outside `ALLOWED_GLOBALS` (named in the message).
        `pickle.UnpicklingError`: the file is not a readable pickle (truncated, corrupt); the message names it.
    """
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        source = os.fspath(path_or_fileobj)
        with open(source, "rb") as handle:
            data = handle.read()
    else:
        source = getattr(path_or_fileobj, "name", "<file object>")
        data = path_or_fileobj.read()
    try:
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # corrupt input surfaces as many exception types
        raise pickle.UnpicklingError(f"{source}: not a readable pickle ({type(error).__name__}: {error}).") from error
