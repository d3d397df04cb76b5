"""Extensions: modules outside nas that register blocks, spaces, search kinds or datasets.

One loader for every way an extension comes in:

- an installed package declares it in the entry-point group ``nas.extensions``
  (``[project.entry-points."nas.extensions"] my_blocks = "my_pkg.blocks"``);
- ``NAS_EXTENSIONS=my_pkg.blocks,/path/to/my_space.py`` in the environment;
- ``nas --extension my_pkg.blocks ...`` on the command line, ``nas.load_extensions(...)`` in
  Python (importing the module yourself works as well).

Installed and environment extensions load when the ``nas`` command starts, and in Python the
first time nas meets a block, space or kind name it does not know. The registries note which
module registered each name (:func:`note`), and a search records the extension modules of its
process in run.json, so that a later command that meets a name it does not know can say which
module to load. Nothing named in a run directory is imported on its own: importing a module
runs its code, and a run.json is data.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import os
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

from search_spaces.errors import NasError, UnknownNameError

V = TypeVar("V")
GROUP = "nas.extensions"  # the entry-point group installed extensions declare
ENV = "NAS_EXTENSIONS"  # comma-separated module names or .py paths
_PROJECT = ("search_spaces", "nas", "explain")  # nas's own packages: never extensions
HOW = (
    f"nas --extension MODULE before the command, {ENV}=MODULE, nas.load_extensions('MODULE') "
    f"in Python, or an installed '{GROUP}' entry point; MODULE is a module name or a .py file"
)

_ORIGINS: dict[tuple[str, str], str] = {}  # (registry, name) -> the module that registered it
_FROM_FILE: dict[str, str] = {}  # module name -> the .py file it was loaded from by path
_installed = False  # entry points and NAS_EXTENSIONS loaded in this process
# what code defined in a notebook, `python -c` or stdin records as its origin: no other process
# can load it (/tmp/oG5 F7)
MAIN = "__main__"
_WARNED: set[str] = set()  # the extensions whose changed code this process has warned of


class ExtensionError(NasError):
    """An extension module could not be found or failed while it was imported."""


def origin_of(obj: Any) -> str:
    """The module that defines ``obj`` (a builder, a sampler, a kind's class), as a later
    process would load it: its name, or its file when it was loaded by path or run as a
    script (``__main__``, which no other process can import by that name). Code defined in a
    notebook, ``python -c`` or stdin has no file a process could load: its origin is
    :data:`MAIN` (it had recorded the path of a file named ``<stdin>``: /tmp/oG5 F7)."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    if module in _FROM_FILE:
        return _FROM_FILE[module]
    if module == "__main__":
        file = getattr(sys.modules.get("__main__"), "__file__", None)
        path = Path(file) if isinstance(file, str) else None
        if path is None or path.suffix != ".py" or not path.is_file():
            return MAIN
        return str(path.resolve())
    return module


def unloadable(entry: str) -> bool:
    """Whether a recorded extension names code no process can load: :data:`MAIN`, or (runs of
    earlier versions) the path of a pseudo-file such as ``/somewhere/<stdin>``."""
    return entry == MAIN or Path(entry).name.startswith("<")


def defined_in_main() -> list[str]:
    """The names registered by code of :data:`MAIN`, as "block kind 'x'", sorted."""
    return sorted(f"{WORDS.get(registry, registry)} {name!r}"
                  for (registry, name), o in _ORIGINS.items() if o == MAIN)  # fmt: skip


def main_warning() -> str | None:
    """The warning of a search whose blocks, spaces, kinds or datasets were defined in
    ``__main__`` (a notebook, ``python -c``, stdin): later commands cannot read its run
    without that code; None when none were."""
    names = defined_in_main()
    if not names:
        return None
    return (
        f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} defined in __main__ (a "
        "notebook, python -c or stdin), which no other process can load: `nas show`, `nas "
        "predict` and the other commands cannot read this run's models, nor can --jobs workers "
        "started afresh. Put that code in a .py file and load it with "
        "nas.load_extensions('file.py') (or nas --extension file.py)."
    )


def is_extension(origin: str) -> bool:
    """Whether ``origin`` (a module name or a file) is outside nas's own packages."""
    return origin.split(".")[0] not in _PROJECT or origin.endswith(".py")


def note(registry: str, name: str, obj: Any) -> None:
    """Record that ``obj``'s module registered ``name`` in ``registry`` ("block", "space",
    "kind"); the registries call this as they register."""
    _ORIGINS[(registry, name)] = origin_of(obj)


def forget(registry: str, name: str) -> None:
    """Drop the record of a name that was unregistered."""
    _ORIGINS.pop((registry, name), None)


def origin(registry: str, name: str) -> str | None:
    """The module (or file) that registered ``name``, or None when it is not registered."""
    return _ORIGINS.get((registry, name))


def extension_modules() -> tuple[str, ...]:
    """The extensions (module names or .py files) that registered something in this process,
    sorted: what a search records in run.json."""
    return tuple(sorted({o for o in _ORIGINS.values() if is_extension(o)}))


def loaded(entry: str) -> bool:
    """Whether the recorded extension ``entry`` (a module name or a .py file) is loaded; code
    of ``__main__`` counts as loaded only when this process registered names from it."""
    if unloadable(entry):
        return entry == MAIN and bool(defined_in_main())
    if entry.endswith(".py"):
        return entry in _FROM_FILE.values() or entry in _ORIGINS.values()
    return entry in sys.modules


def digest(entry: str) -> str | None:
    """``"sha256:<hex>"`` of the code of the extension ``entry`` as it is here: a .py file's
    bytes; a module's source file; for a package, every .py file under its folders (each
    relative path, then its bytes, in sorted order), so that an edit in any of its modules
    counts. None when there is no file to read (``__main__``, a module not loaded, a file
    gone). run.json records it, and a run read with other code says so (/tmp/oG5 F4)."""
    files: list[tuple[str, Path]] = []
    if unloadable(entry):
        return None
    if entry.endswith(".py"):
        files = [("", Path(entry))]
    else:
        module = sys.modules.get(entry)
        folders = getattr(module, "__path__", None)
        file = getattr(module, "__file__", None)
        if folders is not None:  # a package: all of its source
            for folder in map(Path, folders):
                files += [(str(f.relative_to(folder)), f) for f in sorted(folder.rglob("*.py"))]
        elif isinstance(file, str):
            files = [("", Path(file))]
    if not files:
        return None
    h = hashlib.sha256()
    try:
        for name, file in files:
            h.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    except OSError:
        return None
    return "sha256:" + h.hexdigest()


def digests(entries: Iterable[str]) -> dict[str, str]:
    """The :func:`digest` of each of ``entries`` that has one: run.json's
    ``extension_digests``."""
    found = {e: digest(e) for e in entries}
    return {e: d for e, d in found.items() if d is not None}


def _counterpart(entry: str) -> str | None:
    """The extension loaded now that stands for the recorded ``entry``: itself, or a file of
    the same name loaded from another folder (moved, or another copy); None when none is."""
    if unloadable(entry):
        return None
    if not entry.endswith(".py"):
        return entry if entry in sys.modules else None
    if loaded(entry):
        return entry
    name = Path(entry).name
    now = {*_FROM_FILE.values(), *_ORIGINS.values()}
    same = sorted(o for o in now if o.endswith(".py") and Path(o).name == name)
    return same[0] if same else None


def changed_code(recorded: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The extensions whose code differs from what a run recorded (``recorded``: run.json's
    ``extension_digests``), each as (recorded entry, the entry loaded now, the digest then,
    the digest now). One loaded from another path with the same code is not listed; one not
    loaded now, or recorded without a digest (an earlier version's run), is not compared."""
    changed = []
    for entry, then in recorded.items():
        now_entry = _counterpart(entry) if isinstance(then, str) else None
        now = digest(now_entry) if now_entry is not None else None
        if now is not None and now != then:
            changed.append((entry, now_entry, then, now))
    return changed


def _short(value: str) -> str:
    return value.removeprefix("sha256:")[:12]


def _which(entry: str, now_entry: str) -> str:
    """The extension named in a changed-code message: the one loaded now, and where the
    search's was when that was another path."""
    if entry == now_entry:
        return f"the extension {entry!r}"
    return f"the extension {now_entry!r} (the search loaded {entry!r})"


def changed_warning(source: str, recorded: Mapping[str, Any]) -> list[str]:
    """One warning per extension whose code changed since the run ``source`` was searched,
    each said once per process: its models are rebuilt from today's code."""
    lines = []
    for entry, now_entry, then, now in changed_code(recorded):
        if now_entry in _WARNED:
            continue
        _WARNED.add(now_entry)
        lines.append(
            f"{_which(entry, now_entry)} is not the code the search ran ({source} records sha256 "
            f"{_short(then)}, it is {_short(now)} now); models built with it may compute "
            "otherwise, so predictions and explanations may differ from the search's. Load the "
            "search's version to reproduce them."
        )
    return lines


def changed_refusal(run_dir: str, recorded: Mapping[str, Any]) -> str | None:
    """The error of a resume whose extension code changed since the run was searched (its
    trials would mix two versions of the code in one study); None when none did."""
    changed = changed_code(recorded)
    if not changed:
        return None
    entry, now_entry, then, now = changed[0]
    return (
        f"{run_dir} was searched with other code of {_which(entry, now_entry)} (sha256 "
        f"{_short(then)} then, {_short(now)} now); its trials and new ones cannot be mixed in "
        "one study. Restore that file to resume, or pass --out a new folder to search with "
        "the new code."
    )


def load_extension(entry: str) -> str:
    """Import one extension: a module name (``my_pkg.blocks``) or the path of a .py file.
    Returns what a run records of it (its name, or its resolved file); an ExtensionError names
    a module that cannot be found or that fails as it is imported."""
    text = str(entry).strip()
    if not text:
        raise ExtensionError("An extension name is empty; give a module name or a .py file.")
    by_path = text.endswith(".py") or os.sep in text or (os.altsep or os.sep) in text
    try:
        with _quiet_stdout():
            if by_path:
                return _load_file(Path(text).expanduser())
            importlib.import_module(text)
        return text
    except ExtensionError:
        raise
    except ModuleNotFoundError as e:
        if e.name is not None and (text == e.name or text.startswith(e.name + ".")):
            raise ExtensionError(
                f"Extension module {text!r} cannot be found; install it, add its folder to "
                "PYTHONPATH, or give the path of its .py file."
            ) from None
        raise ExtensionError(
            f"Extension {text!r} failed to load (it imports {e.name!r}, which is not "
            "installed); install that, or leave it out."
        ) from None
    except (Exception, SystemExit) as e:  # its own code failed (or exited): one line
        raise ExtensionError(
            f"Extension {text!r} failed to load ({type(e).__name__}: {e}); fix it, or leave it out."
        ) from None


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """What an extension prints as it is imported goes to stderr: stdout is the command's
    output, and a print() there had made `nas datasets --json` invalid JSON (/tmp/oG5 F10)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _loaded_files() -> set[str]:
    """The resolved .py files of the modules loaded now."""
    files = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.endswith(".py"):
            files.add(str(Path(file).resolve()))
    return files


def _load_file(path: Path) -> str:
    if path.suffix != ".py" or not path.is_file():
        what = "is not a .py file" if path.exists() else "does not exist"
        raise ExtensionError(f"Extension file {str(path)!r} {what}; check the path.")
    resolved = str(path.resolve())
    name = path.stem
    if _FROM_FILE.get(name) == resolved:
        return resolved  # loaded already
    if resolved in _loaded_files():
        return resolved  # imported by name already, under any name (its folder is on the path)
    module = sys.modules.get(name)
    if module is not None or name in _FROM_FILE:
        raise ExtensionError(
            f"Extension file {str(path)!r} would load as module {name!r}, which is another "
            "module already loaded; rename the file."
        )
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExtensionError(f"Extension file {str(path)!r} cannot be imported; check it.")
    module = importlib.util.module_from_spec(spec)
    _FROM_FILE[name] = resolved  # before it runs: its registrations record the file
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        _FROM_FILE.pop(name, None)
        raise
    return resolved


def load_extensions(*entries: str | os.PathLike[str]) -> list[str]:
    """Load the installed extensions (entry points and ``NAS_EXTENSIONS``, once per process)
    and then each of ``entries`` (module names or .py files); returns what a run records of
    each: ``nas.load_extensions("my_pkg.blocks", "/path/to/my_space.py")``."""
    texts = []
    for entry in entries:
        if not isinstance(entry, str | os.PathLike):  # a Path is a file too (/tmp/oG5 F11)
            raise ExtensionError(
                f"An extension is a module name or the path of a .py file, not "
                f"{type(entry).__name__}; pass each as its own string."
            )
        texts.append(os.fspath(entry))
    load_installed()
    return [load_extension(e) for e in texts]


def load_installed() -> bool:
    """Load the entry points of group ``nas.extensions`` and the modules ``NAS_EXTENSIONS``
    names, the first time it is called; True when that call loaded something (then a name
    looked up before may be registered now)."""
    global _installed
    if _installed:
        return False
    _installed = True
    count = 0
    for ep in entry_points(group=GROUP):
        try:
            with _quiet_stdout():
                ep.load()
        except Exception as e:
            package = ep.dist.name if ep.dist is not None else "an installed package"
            raise ExtensionError(
                f"The nas extension {ep.name!r} ({ep.value}, from {package}) failed to load "
                f"({type(e).__name__}: {e}); fix or uninstall {package}."
            ) from None
        count += 1
    for entry in os.environ.get(ENV, "").split(","):
        if entry.strip():
            try:
                load_extension(entry)
            except ExtensionError as e:
                raise ExtensionError(f"{ENV}: {e}") from None
            count += 1
    return count > 0


def look_up(table: Mapping[str, V], name: Any, registry: str, error: type[UnknownNameError],
            known: str = "") -> V:  # fmt: skip
    """``table[name]`` of a registry (``registry``: "block", "space", "kind", "dataset"),
    loading the installed extensions once when it is not there; else ``error`` naming the
    closest known name, the known ones (``known``: how to list them, default all, comma
    separated) and how to load an extension that may register it."""
    found = table.get(name) if isinstance(name, str) else None
    if found is None and isinstance(name, str) and load_installed():
        found = table.get(name)  # an installed extension registered it
    if found is not None:
        return found
    word = WORDS.get(registry, registry)
    # compared case-blind: --space CNN had got no suggestion, 'CNN' and 'cnn' sharing no
    # letter to difflib (/tmp/oD4 F15)
    folded = {str(k).casefold(): k for k in table}
    close = difflib.get_close_matches(str(name).casefold(), list(folded), n=1)
    hint = f" Did you mean {folded[close[0]]!r}?" if close else ""
    listed = known or f"Known {word.split()[-1]}s: {', '.join(table)}."
    raise error(f"Unknown {word} {name!r}.{hint} {listed}" + unknown_hint(word),
                registry=registry, name=str(name))  # fmt: skip


def unknown_hint(registry: str) -> str:
    """The sentence an unknown-name error ends with: how to load the extension that may
    register it."""
    return f" If an extension registers this {registry}, load it first: {HOW}."


WORDS = {"block": "block kind", "space": "space", "kind": "search kind", "dataset": "dataset"}


#: What a script calls to search or train, at its top level (``nas.search(...)``,
#: ``model.fit(...)``): loading such a script as an extension runs it.
_RUNS = frozenset({"search", "fit", "fit_transform", "optimize", "main"})


def runs_a_search(script: Path) -> bool:
    """Whether loading ``script`` would run work: a call to ``search``, ``fit``, ``optimize``
    or ``main`` at its top level, outside an ``if __name__ == "__main__":`` guard (a script
    that registers a dataset and searches in one file; /tmp/oF6 F2)."""
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.If) and is_main_guard(node.test):
            continue
        for call in ast.walk(node):
            if isinstance(call, ast.Call):
                func = call.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in _RUNS:
                    return True
    return False


def is_main_guard(test: Any) -> bool:
    """Whether ``test`` is ``__name__ == "__main__"``."""
    import ast

    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")  # fmt: skip


def missing_message(lead: str, recorded: Iterable[str]) -> str:
    """The error for a run this process cannot read (``lead`` says what it met): the
    extensions the search recorded that are not loaded now, and how to load them; or, when
    the record names none, how to load the one that registers it."""
    missing = [r for r in recorded if isinstance(r, str) and not loaded(r)]
    script = next((m for m in missing if m.endswith(".py") and runs_a_search(Path(m))), None)
    if script is not None:  # loading it would run its search again (/tmp/oF6 F2)
        return (
            f"{lead}; the search ran with the script {script!r} loaded: it registered what the "
            "run needs, and it runs a search when it is loaded (no `if __name__ == "
            '"__main__":` guard), so loading it here would search again. Move its blocks, '
            "spaces and datasets into a .py file of their own (or put its search under that "
            "guard), then load that file (nas --extension FILE before the command, or "
            "nas.load_extensions('FILE'))."
        )
    if missing:
        named = ", ".join(repr(m) for m in missing)
        first, every = shlex.quote(missing[0]), shlex.quote(",".join(missing))
        return (
            f"{lead}; the search ran with the extension {named} loaded, and this process has "
            f"not loaded it. Load it the same way (nas --extension {first} before the "
            f"command, {ENV}={every}, nas.load_extensions({missing[0]!r}) in "
            f"Python, or an installed '{GROUP}' entry point), then run this again."
        )
    return (
        f"{lead}, and it is not one of nas's own; load the extension that registers it "
        f"({HOW}), then run this again."
    )


def not_loaded(source: str, recorded: Any, error: BaseException) -> str | None:
    """The message for reading ``source`` (a run's file) that failed with ``error`` when an
    extension is the likely cause: ``error`` names an unknown block, space or kind, or the run
    recorded an extension (``recorded``, run.json's list) that is not loaded now; else None.
    Code the search defined in ``__main__`` is named as such, not as a file to load nor as a
    damaged run (/tmp/oG5 F7)."""
    listed = recorded if isinstance(recorded, list | tuple) else ()
    entries = [r for r in listed if isinstance(r, str) and not unloadable(r)]
    in_main = any(isinstance(r, str) and unloadable(r) and not loaded(r) for r in listed)
    if isinstance(error, UnknownNameError):
        what = f"{WORDS.get(error.registry, error.registry)} {error.name!r}"
        lead = f"{source} names the {what}, which is not registered here"
        if in_main and all(loaded(r) for r in entries):
            return main_message(lead)
        return missing_message(lead, entries)
    if any(not loaded(r) for r in entries):
        why = " ".join(str(error).split())
        why = why if len(why) <= 160 else why[:159] + "…"
        return missing_message(f"{source} cannot be read here ({why})", entries)
    return None


def main_message(lead: str) -> str:
    """The error for a run that needs code its search defined in ``__main__``."""
    return (
        f"{lead}: the search defined it in a notebook, python -c or stdin (__main__), which no "
        "other process can load; the run is intact. Put that code in a .py file, load it "
        f"({HOW}), then run this again."
    )


__all__ = [
    "ENV",
    "MAIN",
    "changed_code",
    "changed_refusal",
    "changed_warning",
    "defined_in_main",
    "digest",
    "digests",
    "main_message",
    "main_warning",
    "unloadable",
    "GROUP",
    "ExtensionError",
    "extension_modules",
    "forget",
    "is_extension",
    "load_extension",
    "load_extensions",
    "load_installed",
    "look_up",
    "loaded",
    "missing_message",
    "not_loaded",
    "note",
    "origin",
    "origin_of",
    "unknown_hint",
]
