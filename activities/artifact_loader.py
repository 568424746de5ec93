"""Loading an artifact's code in isolation, so versions of one agent run side by side in one process.

Each artifact's modules are imported under their own prefix, ``_shipway_<sha256[:16]>``: the
artifact's top-level names (``my_agent``, ``reference_agents``, ...) become
``_shipway_<hash>.my_agent``, each with its own module state. Code inside the artifact keeps
writing plain absolute imports: every module of the artifact is executed with a ``__builtins__``
whose ``__import__`` maps the artifact's own top-level names to its prefix (other names, such as
``langgraph`` or ``pandas``, come from the worker's environment). A canary and its stable version
of the same agent therefore never share a module, a cache or a global.

Unpacked trees live in ``<cache>/<sha256>/``, written once per worker machine (an atomic rename)
and checked against the manifest's file hashes when reused.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.artifact_format import MANIFEST, IntegrityError, Manifest, file_hashes, sha256_hex, unpack, verify


def alias_prefix(sha256: str) -> str:
    """The module prefix of an artifact's code: ``_shipway_<first 16 hex digits>``."""
    return f"_shipway_{sha256[:16]}"


def top_level_names(roots: Iterable[Path]) -> set[str]:
    """Modules and packages importable at the top of ``roots`` (``x.py``, ``x/``, ``x/__init__.py``)."""
    names = set()
    for root in roots:
        for p in root.iterdir() if root.is_dir() else ():
            if p.suffix == ".py" and p.stem.isidentifier():
                names.add(p.stem)
            elif p.is_dir() and p.name.isidentifier() and any(p.glob("*.py")):
                names.add(p.name)
    return names


class _IsolatingLoader(importlib.abc.Loader):
    """Wraps the standard loader of an artifact module to execute it with the artifact's ``__builtins__``."""

    def __init__(self, inner: importlib.abc.Loader, builtins_dict: dict) -> None:
        self.inner, self.builtins_dict = inner, builtins_dict

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = self.builtins_dict
        self.inner.exec_module(module)


class ArtifactImporter(importlib.abc.MetaPathFinder):
    """Finds the modules of registered artifacts under their prefixes (one instance per process)."""

    def __init__(self) -> None:
        self._builtins: dict[str, dict] = {}
        self._lock = threading.Lock()

    def register(self, prefix: str, roots: list[Path]) -> None:
        """Make ``<prefix>.<name>`` import ``<name>`` from ``roots``; idempotent."""
        with self._lock:
            if prefix in self._builtins:
                return
            names = top_level_names(roots)
            package = types.ModuleType(prefix, f"code of artifact {prefix}")
            package.__path__ = [str(r) for r in roots]
            package.__package__ = prefix
            sys.modules[prefix] = package
            self._builtins[prefix] = dict(builtins.__dict__, __import__=_importer_for(prefix, names))

    def find_spec(self, fullname: str, path, target=None):
        prefix = fullname.partition(".")[0]
        if prefix not in self._builtins or fullname == prefix:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _IsolatingLoader(spec.loader, self._builtins[prefix])
        return spec


def _importer_for(prefix: str, names: set[str]) -> Callable:
    real_import = builtins.__import__

    def _import(name: str, globals=None, locals=None, fromlist=(), level: int = 0):
        top = name.partition(".")[0]
        if level == 0 and top in names:
            module = real_import(f"{prefix}.{name}", globals, locals, fromlist, 0)
            return module if fromlist else sys.modules[f"{prefix}.{top}"]
        return real_import(name, globals, locals, fromlist, level)

    return _import


IMPORTER = ArtifactImporter()
if IMPORTER not in sys.meta_path:
    sys.meta_path.insert(0, IMPORTER)


def _module_of(entry_file: str, python_paths: list[str]) -> str:
    """Dotted module name of ``entry_file`` (a relative path) under the longest matching python path."""
    path = Path(entry_file)
    for root in sorted(python_paths, key=lambda r: len(Path(r).parts), reverse=True):
        root_path = Path(root)
        if root_path == Path(".") or path.is_relative_to(root_path):
            rel = path.relative_to(root_path) if root_path != Path(".") else path
            return ".".join(rel.with_suffix("").parts)
    raise IntegrityError(f"{entry_file} is not under any of the artifact's python paths {python_paths}")


@dataclass
class LoadedArtifact:
    """An artifact's code, imported under its own prefix, and its manifest."""

    sha256: str
    root: Path
    manifest: Manifest

    def attr(self, ref: str) -> Any:
        """The object ``path/to/file.py:attr`` names, imported in isolation.

        Raises:
            IntegrityError: the file is outside the artifact's python paths.
            ImportError, AttributeError: the module or attribute does not exist.
        """
        file, _, attr = ref.rpartition(":")
        module = importlib.import_module(f"{alias_prefix(self.sha256)}.{_module_of(file, self.manifest.python_paths)}")
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    def graph(self, config: dict | None = None) -> Any:
        """The graph entry point: a ``StateGraph`` or compiled graph; a factory is called with ``config``."""
        obj = self.attr(self.manifest.graph)
        if callable(obj) and not hasattr(obj, "compile") and not hasattr(obj, "astream"):
            obj = obj(config or {"configurable": {}})
        return obj


class ArtifactCache:
    """Unpacked artifacts of one worker machine under ``root``, loaded once per process.

    Args:
        root: cache folder (``<state_dir>/artifact-cache``).
        fetch: ``sha256 -> bytes`` (the artifact store's ``get``).
    """

    def __init__(self, root: Path, fetch: Callable[[str], bytes]) -> None:
        self.root, self.fetch = root, fetch
        self._loaded: dict[str, LoadedArtifact] = {}
        self._lock = threading.Lock()

    def load(self, sha256: str) -> LoadedArtifact:
        """The artifact ``sha256``, verified, unpacked and registered for import.

        Raises:
            IntegrityError: the stored bytes do not hash to ``sha256``, or an unpacked file differs
                from the manifest (nothing of the artifact is imported then).
            activities.artifact_store.ArtifactNotFound: nothing is stored under ``sha256``.
        """
        with self._lock:
            if sha256 in self._loaded:
                return self._loaded[sha256]
            folder = self.root / sha256
            if not (folder / MANIFEST).exists():
                data = self.fetch(sha256)
                verify(data, sha256)
                self._unpack(data, folder)
            manifest = Manifest.from_json((folder / MANIFEST).read_text())
            if file_hashes(folder) != manifest.files:
                raise IntegrityError(f"the unpacked files of artifact {sha256} differ from its manifest; refusing to load it")
            _apply_env(manifest.env)
            IMPORTER.register(alias_prefix(sha256), [(folder / p).resolve() for p in manifest.python_paths])
            self._loaded[sha256] = LoadedArtifact(sha256, folder, manifest)
            return self._loaded[sha256]

    def _unpack(self, data: bytes, folder: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name[:12]}-", dir=self.root))
        try:
            unpack(data, tmp)
            try:
                tmp.rename(folder)
            except OSError:
                if not (folder / MANIFEST).exists():  # another process won the rename with a complete tree
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _apply_env(env: dict[str, str]) -> None:
    # Environment variables are process-wide (as on the LangGraph server): a variable the worker
    # already has keeps its value.
    for key, value in env.items():
        os.environ.setdefault(key, value)


def load_folder(folder: Path) -> LoadedArtifact:
    """An unpacked (or about to be packed) artifact tree loaded for inspection, e.g. by the build
    step's probe; the prefix comes from a hash of its manifest draft."""
    manifest = Manifest.from_json((folder / MANIFEST).read_text())
    sha = sha256_hex(json.dumps(manifest.files, sort_keys=True).encode())
    IMPORTER.register(alias_prefix(sha), [(folder / p).resolve() for p in manifest.python_paths])
    return LoadedArtifact(sha, folder, manifest)
