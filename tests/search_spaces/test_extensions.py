"""Extensions come in one way: a module name or a .py file, loaded by ``nas --extension``,
``NAS_EXTENSIONS``, ``nas.load_extensions`` or an installed ``nas.extensions`` entry point. The
registries note which module registered each name, and an unknown name says how to load one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from search_spaces import extensions
from search_spaces.blocks import get_block
from search_spaces.blocks._base import _REGISTRY
from search_spaces.errors import UnknownBlockError, UnknownSpaceError
from search_spaces.spaces import space_info

BLOCK = """
from search_spaces.blocks import Shape, register
from search_spaces.blocks._base import p_int
from torch import nn

@register("{name}", family="fnn", accepts=("vec",), params={{"units": p_int(4, 1, 64)}})
def build(shape, p):
    return nn.Linear(shape.dims[0], p["units"]), Shape("vec", (p["units"],))
"""


@pytest.fixture
def block_file(tmp_path: Path):
    """A .py file registering the block kind ``extblock.v1``; unregistered afterwards."""
    path = tmp_path / "ext_blocks_for_test.py"
    path.write_text(BLOCK.format(name="extblock.v1"))
    yield path
    _REGISTRY.pop("extblock.v1", None)
    extensions.forget("block", "extblock.v1")
    extensions._FROM_FILE.pop(path.stem, None)
    sys.modules.pop(path.stem, None)


def test_a_file_loads_by_path_and_its_registrations_record_the_file(block_file: Path) -> None:
    assert extensions.load_extensions(str(block_file)) == [str(block_file.resolve())]
    assert get_block("extblock.v1").family == "fnn"
    assert extensions.origin("block", "extblock.v1") == str(block_file.resolve())
    assert str(block_file.resolve()) in extensions.extension_modules()
    assert extensions.loaded(str(block_file.resolve()))
    # loading it again is a no-op, not "already registered"
    assert extensions.load_extensions(str(block_file)) == [str(block_file.resolve())]


def test_nas_own_registrations_are_not_extensions() -> None:
    assert extensions.origin("block", "dense.v1") == "search_spaces.blocks.dense"
    assert extensions.origin("space", "cnn") == "search_spaces.spaces.cnn"
    assert not any(m.startswith(("search_spaces", "nas.", "explain")) for m in
                   extensions.extension_modules())  # fmt: skip


def test_a_module_name_loads_from_the_import_path(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ext_named_for_test.py").write_text(BLOCK.format(name="extnamed.v1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert extensions.load_extensions("ext_named_for_test") == ["ext_named_for_test"]
        assert extensions.origin("block", "extnamed.v1") == "ext_named_for_test"
        assert "ext_named_for_test" in extensions.extension_modules()
    finally:
        _REGISTRY.pop("extnamed.v1", None)
        extensions.forget("block", "extnamed.v1")
        sys.modules.pop("ext_named_for_test", None)


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("no_such_module_xyz", "Extension module 'no_such_module_xyz' cannot be found; install"),
        ("/no/such/file.py", "Extension file '/no/such/file.py' does not exist; check the path"),
        ("", "An extension name is empty"),
    ],
)
def test_an_extension_that_cannot_be_found_is_one_clear_error(entry: str, said: str) -> None:
    with pytest.raises(extensions.ExtensionError, match="^" + said.replace("(", r"\(")):
        extensions.load_extensions(entry)


def test_an_extension_whose_code_fails_says_so_and_is_not_half_loaded(tmp_path: Path) -> None:
    bad = tmp_path / "ext_broken_for_test.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(extensions.ExtensionError, match=r"failed to load \(RuntimeError: boom\)"):
        extensions.load_extensions(str(bad))
    assert "ext_broken_for_test" not in sys.modules
    missing = tmp_path / "ext_imports_missing_for_test.py"
    missing.write_text("import not_installed_pkg_xyz\n")
    with pytest.raises(extensions.ExtensionError, match="imports 'not_installed_pkg_xyz'"):
        extensions.load_extensions(str(missing))


def test_a_list_is_refused_not_read_letter_by_letter() -> None:
    with pytest.raises(extensions.ExtensionError, match="not list; pass each as its own"):
        extensions.load_extensions(["a", "b"])  # type: ignore[arg-type]


def test_unknown_names_say_how_to_load_an_extension() -> None:
    with pytest.raises(UnknownBlockError) as block:
        get_block("sqdense.v1")
    assert block.value.registry == "block" and block.value.name == "sqdense.v1"
    assert "nas --extension MODULE" in str(block.value)
    with pytest.raises(UnknownSpaceError, match="If an extension registers this space"):
        space_info("mysq")


def test_an_unknown_name_loads_the_environment_extensions_once_then_finds_it(
    block_file: Path, monkeypatch
) -> None:
    monkeypatch.setenv(extensions.ENV, str(block_file))
    monkeypatch.setattr(extensions, "_installed", False)
    assert get_block("extblock.v1").name == "extblock.v1"  # loaded on the miss
    assert extensions.load_installed() is False  # once per process


def test_a_broken_environment_extension_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv(extensions.ENV, "no_such_module_xyz")
    monkeypatch.setattr(extensions, "_installed", False)
    with pytest.raises(extensions.ExtensionError, match="^NAS_EXTENSIONS: Extension module"):
        extensions.load_installed()


def test_the_missing_message_names_the_recorded_extension_that_is_not_loaded() -> None:
    error = UnknownBlockError("x", registry="block", name="sqdense.v1")
    text = extensions.not_loaded("run/best/spec.json", ["/x/myext.py"], error)
    assert text is not None
    assert text.startswith("run/best/spec.json names the block kind 'sqdense.v1', which is not")
    assert "the search ran with the extension '/x/myext.py' loaded" in text
    assert "nas --extension /x/myext.py before the command" in text
    assert "NAS_EXTENSIONS=/x/myext.py" in text and "re-run" not in text
    # nothing recorded: how to load the one that registers it
    alone = extensions.not_loaded("spec.json", None, error)
    assert alone is not None and "is not one of nas's own" in alone
    # another failure with every recorded extension loaded: not an extension's doing
    assert extensions.not_loaded("run.json", ["sys"], ValueError("bad")) is None
    assert "cannot be read here (bad)" in (
        extensions.not_loaded("run.json", ["not_loaded_xyz"], ValueError("bad")) or ""
    )


def test_an_extension_that_exits_is_an_error_not_a_silent_exit(tmp_path: Path) -> None:
    quits = tmp_path / "ext_quits_for_test.py"
    quits.write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(extensions.ExtensionError, match=r"failed to load \(SystemExit: 3\)"):
        extensions.load_extensions(str(quits))


def test_a_file_imported_by_name_is_not_loaded_again_by_its_path(
    tmp_path: Path, monkeypatch
) -> None:
    package = tmp_path / "pk_for_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "blocks_ext.py").write_text(BLOCK.format(name="extpk.v1"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        extensions.load_extensions("pk_for_test.blocks_ext")
        # the same file by its path: loaded already (it had registered its block again)
        assert extensions.load_extensions(str(package / "blocks_ext.py")) == [
            str((package / "blocks_ext.py").resolve())
        ]
    finally:
        _REGISTRY.pop("extpk.v1", None)
        extensions.forget("block", "extpk.v1")
        for name in ("pk_for_test.blocks_ext", "pk_for_test"):
            sys.modules.pop(name, None)


def test_the_command_to_load_a_path_with_spaces_is_quoted() -> None:
    error = UnknownBlockError("x", registry="block", name="sq.v1")
    text = extensions.not_loaded("spec.json", ["/tmp/my ext/ext.py"], error) or ""
    assert "nas --extension '/tmp/my ext/ext.py' before the command" in text
    assert "NAS_EXTENSIONS='/tmp/my ext/ext.py'" in text


# --- the code of an extension: its digest (/tmp/oG5 F4) ------------------------------------


def _sha(*parts: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(b"".join(parts)).hexdigest()


def test_the_digest_is_of_the_file_module_or_whole_package(tmp_path: Path, monkeypatch) -> None:
    one = tmp_path / "one_ext.py"
    one.write_bytes(b"X = 1\n")
    assert extensions.digest(str(one)) == _sha(b"\0X = 1\n\0")
    package = tmp_path / "pkg_digest_for_test"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "blocks.py").write_text("Y = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        __import__("pkg_digest_for_test")
        before = extensions.digest("pkg_digest_for_test")
        (package / "sub" / "blocks.py").write_text("Y = 3\n")  # an edit in any of its modules
        after = extensions.digest("pkg_digest_for_test")
        assert before is not None and after is not None and before != after
    finally:
        sys.modules.pop("pkg_digest_for_test", None)
    # nothing to read: no digest (a module not loaded, code of __main__)
    assert extensions.digest("not_loaded_xyz") is None
    assert extensions.digest(extensions.MAIN) is None


def test_changed_code_names_the_file_and_says_once(block_file: Path, tmp_path: Path) -> None:
    extensions.load_extensions(str(block_file))
    now = extensions.digest(str(block_file.resolve()))
    same = {str(block_file.resolve()): now}
    assert extensions.changed_code(same) == [] and extensions.changed_refusal("run", same) is None
    # the same code recorded at another path (moved, another machine): the same extension
    moved = {f"/elsewhere/{block_file.name}": now}
    assert extensions.changed_code(moved) == [] and extensions.changed_warning("r", moved) == []
    other = {str(block_file.resolve()): "sha256:" + "ab" * 32}
    refused = extensions.changed_refusal("runs/x", other) or ""
    assert refused.startswith(f"runs/x was searched with other code of the extension "
                              f"'{block_file.resolve()}' (sha256 abababababab then, ")  # fmt: skip
    assert "Restore that file to resume, or pass --out a new folder" in refused
    warned = extensions.changed_warning("runs/x/run.json", other)
    assert len(warned) == 1 and "predictions and explanations may differ" in warned[0]
    assert extensions.changed_warning("runs/x/run.json", other) == []  # once per process
    elsewhere = {f"/elsewhere/{block_file.name}": "sha256:" + "cd" * 32}
    extensions._WARNED.clear()
    assert (
        f"(the search loaded '/elsewhere/{block_file.name}')"
        in (extensions.changed_warning("r", elsewhere)[0])
    )
    extensions._WARNED.clear()
    # a record without digests (an earlier version's run): nothing compared
    assert extensions.changed_code({}) == []


# --- code defined in __main__ (/tmp/oG5 F7) ---------------------------------------------------


def test_code_of_a_notebook_or_stdin_records_main_and_is_named_as_such(monkeypatch) -> None:
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__file__", "<stdin>", raising=False)

    def build(shape, p):  # a builder defined in __main__
        return None

    build.__module__ = "__main__"
    assert extensions.origin_of(build) == extensions.MAIN  # not '/cwd/<stdin>'
    extensions.note("block", "nb.v1", build)
    try:
        warning = extensions.main_warning() or ""
        assert warning.startswith("block kind 'nb.v1' is defined in __main__ (a notebook")
        assert "nas.load_extensions('file.py')" in warning
    finally:
        extensions.forget("block", "nb.v1")
    assert extensions.main_warning() is None
    error = UnknownBlockError("x", registry="block", name="nb.v1")
    for recorded in (["__main__"], ["/tmp/x/<stdin>"]):  # this version's, an earlier one's
        text = extensions.not_loaded("run/best/spec.json", recorded, error) or ""
        assert text.startswith("run/best/spec.json names the block kind 'nb.v1', which is not "
                               "registered here: the search defined it in a notebook")  # fmt: skip
        assert "the run is intact" in text
        assert "<stdin>" not in text and "damaged" not in text


# --- small ones (/tmp/oG5 F10, F11) -------------------------------------------------------------


def test_what_an_extension_prints_goes_to_stderr(tmp_path: Path, capsys) -> None:
    noisy = tmp_path / "ext_prints_for_test.py"
    noisy.write_text("import sys\nprint('HELLO')\nsys.stdout.write('more\\n')\n")
    try:
        extensions.load_extensions(str(noisy))
        said = capsys.readouterr()
        assert said.out == "" and "HELLO" in said.err and "more" in said.err
    finally:
        extensions._FROM_FILE.pop(noisy.stem, None)
        sys.modules.pop(noisy.stem, None)


def test_a_path_object_is_a_file_to_load(block_file: Path) -> None:
    """It had been refused: "not PosixPath; pass each as its own string"."""
    assert extensions.load_extensions(block_file) == [str(block_file.resolve())]


def test_a_recorded_script_that_searches_is_not_offered_to_load(tmp_path: Path) -> None:
    """/tmp/oF6 F2: a run of a script that registered a dataset and searched, unguarded, told
    the reader to load that script (nas --extension it), which ran the whole search again."""
    from search_spaces.extensions import missing_message, runs_a_search

    script = tmp_path / "jobs_main.py"
    script.write_text("import nas\n\n@nas.register_dataset('mine')\ndef mine():\n    ...\n\n"
                      "result = nas.search(dataset='mine', out='run')\n")  # fmt: skip
    assert runs_a_search(script)
    said = missing_message("RUN/run.json names the dataset 'mine'", [str(script)])
    assert "it runs a search when it is loaded" in said and "--extension" in said
    assert f"nas --extension {script}" not in said  # not offered as it is
    script.write_text("import nas\nnas.register_dataset('mine')(print)\n"
                      "if __name__ == '__main__':\n    nas.search(dataset='mine')\n")  # fmt: skip
    assert not runs_a_search(script)
    assert f"nas --extension {script} before the command" in missing_message("x", [str(script)])
