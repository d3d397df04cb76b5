"""Hostile input gets one line (issue #14): bad options, damaged run directories, odd names.

Each case of the battery runs one ``nas`` command in-process from a fresh folder holding a copy
of the finished tiny iris run (``run/``), damaged by the case, and asserts: exit code 2, nothing
on stdout, exactly one stderr line, ``error: ...``, naming the problem (and the file), no
traceback, and no file created, changed or removed in that folder (a hash of the tree before
and after): reading a run creates nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import re
import shutil
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.usefixtures("restore_global_state")

RUN = "run"  # the run copy, inside the case's folder


# ---------------------------------------------------------------- damage, one file per case


def write(rel: str, content: str | bytes) -> Callable[[Path], None]:
    """Replace (or create) ``here/rel`` with ``content``."""

    def damage(here: Path) -> None:
        path = here / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    return damage


def remove(rel: str) -> Callable[[Path], None]:
    def damage(here: Path) -> None:
        (here / rel).unlink()

    return damage


def folder_instead(rel: str) -> Callable[[Path], None]:
    """``here/rel`` becomes an (empty) folder."""

    def damage(here: Path) -> None:
        (here / rel).unlink()
        (here / rel).mkdir()

    return damage


def edit_json(rel: str, change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Load ``here/rel``, let ``change`` edit it in place, write it back."""

    def damage(here: Path) -> None:
        path = here / rel
        record = json.loads(path.read_text(encoding="utf-8"))
        change(record)
        path.write_text(json.dumps(record), encoding="utf-8")

    return damage


def set_key(rel: str, key: str, value: Any) -> Callable[[Path], None]:
    """Set ``key`` of a JSON file (``<here>`` / ``<run>`` in a text value: the case's folder /
    the run copy)."""

    def damage(here: Path) -> None:
        edit_json(rel, lambda r: r.update({key: _here(value, here)}))(here)

    return damage


def del_key(rel: str, key: str) -> Callable[[Path], None]:
    return edit_json(rel, lambda r: r.pop(key))


def _here(value: Any, here: Path) -> Any:
    return expand(value, here) if isinstance(value, str) else value


def torch_file(rel: str, make: Callable[[], Any]) -> Callable[[Path], None]:
    def damage(here: Path) -> None:
        torch.save(make(), here / rel)

    return damage


def other_activation(record: dict[str, Any]) -> None:
    """The first block's activation changed: the spec still takes the weights."""
    params = record["blocks"][0]["params"]
    params["activation"] = "sigmoid" if params.get("activation") != "sigmoid" else "tanh"


def shifted_weights() -> dict[str, torch.Tensor]:
    """The winner's state_dict with every float tensor moved by 0.1: it loads."""
    state = torch.load(_FINISHED[0] / "best" / "model.pt", weights_only=True)
    return {k: v + 0.1 if v.is_floating_point() else v for k, v in state.items()}


def wrong_shapes() -> dict[str, torch.Tensor]:
    """The winner's state_dict, every tensor (but a scalar) one row longer."""
    state = torch.load(_FINISHED[0] / "best" / "model.pt", weights_only=True)
    return {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) if v.dim() else v
            for k, v in state.items()}  # fmt: skip


class Payload:
    """Unpickling this would call print: torch's weights_only loader must refuse it."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("the payload ran",))


def npz(rel: str, **arrays: Any) -> Callable[[Path], None]:
    def damage(here: Path) -> None:
        with open(here / rel, "wb") as f:
            np.savez(f, **arrays)

    return damage


def compressed(rel: str) -> Callable[[Path], None]:
    """A compressed NPZ of 200 rows of 3 features and a 0/1 target at ``here/rel``."""

    def damage(here: Path) -> None:
        X = np.arange(600, dtype=np.float32).reshape(200, 3)
        np.savez_compressed(here / rel, X=X, y=np.arange(200) % 2)

    return damage


def user_sqlite(rel: str) -> Callable[[Path], None]:
    """A user's own SQLite database at ``here/rel`` (a table of customers, no Optuna)."""

    def damage(here: Path) -> None:
        (here / rel).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(here / rel)) as db:
            db.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
            db.execute("INSERT INTO customers VALUES (1, 'Ada')")
            db.commit()

    return damage


def several(*damages: Callable[[Path], None]) -> Callable[[Path], None]:
    def damage(here: Path) -> None:
        for d in damages:
            d(here)

    return damage


def rename_study(here: Path) -> None:
    """The study inside study.db gets another name than run.json's."""
    with sqlite3.connect(here / RUN / "study.db") as db:
        db.execute("UPDATE studies SET study_name = 'someone-else'")
    db.close()


def foreign_study(rel: str) -> Callable[[Path], None]:
    """``here/rel``: the run's study.db as another search would have written it, under the
    same study name (``nas search --dataset breast_cancer --study iris-tiny``)."""

    def damage(here: Path) -> None:
        (here / rel).parent.mkdir(parents=True, exist_ok=True)
        if (here / rel) != (here / DB):
            shutil.copyfile(here / DB, here / rel)
        with contextlib.closing(sqlite3.connect(here / rel)) as db, db:
            (value,) = db.execute("SELECT value_json FROM study_user_attributes "
                                  "WHERE key = 'nas_run'").fetchone()  # fmt: skip
            record = json.loads(value)
            record["dataset"] = "breast_cancer"
            db.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = 'nas_run'",
                       (json.dumps(record),))  # fmt: skip

    return damage


def data_info(**values: Any) -> Callable[[Path], None]:
    """run.json's data_info with ``values`` set."""
    return edit_json(f"{RUN}/run.json", lambda r: r["data_info"].update(values))


def scaling(key: str, value: Any) -> Callable[[Path], None]:
    """run.json's recorded input scaling (data_info.preprocessing.inputs) with ``key`` set."""

    def change(record: dict[str, Any]) -> None:
        record["data_info"]["preprocessing"]["inputs"][key] = value

    return edit_json(f"{RUN}/run.json", change)


def deflate_damaged(rel: str) -> Callable[[Path], None]:
    """``here/rel``, a compressed NPZ, with 6 bytes inverted in the middle of its last member's
    compressed data: the archive opens, but zlib cannot inflate that member."""

    def damage(here: Path) -> None:
        import zipfile

        with zipfile.ZipFile(here / rel) as z:
            info = z.infolist()[-1]
        data = bytearray((here / rel).read_bytes())
        head = info.header_offset  # the local header: 30 bytes, then its name and extra field
        names, extra = struct.unpack_from("<HH", data, head + 26)
        at = head + 30 + names + extra + info.compress_size // 2
        data[at : at + 6] = bytes(b ^ 0xFF for b in data[at : at + 6])
        (here / rel).write_bytes(bytes(data))

    return damage


BAD_TOML = 'space = "fnn"\nlr = 0.1\n'  # a top-level key that is not a section
CSV = "age,heart_rate,label\n1,60,a\n2,70,b\n3,80,a\n4,90,b\n"
IRIS = ("sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
        "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")  # fmt: skip

# ---------------------------------------------------------------- the battery


@dataclass(frozen=True)
class Case:
    """``nas ARGS`` (``<run>`` / ``<here>``: the run copy / the case's folder), after
    ``damage``; the one error line must contain every one of ``words``."""

    args: tuple[str, ...]
    words: tuple[str, ...]
    damage: Callable[[Path], None] | None = None


def case(args: str, *words: str, damage: Callable[[Path], None] | None = None) -> Case:
    return Case(tuple(args.split()), words, damage)


J = f"{RUN}/run.json"
M = f"{RUN}/best/metrics.json"
S = f"{RUN}/best/spec.json"
W = f"{RUN}/best/model.pt"
P = f"{RUN}/best/predictions.npz"
L = f"{RUN}/leaderboard.csv"
DB = f"{RUN}/study.db"
GARBAGE = b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary \x00"

CASES: dict[str, Case] = {
    # -------- nas show: run.json, metrics.json, leaderboard.csv, the folder itself
    "show/run.json binary": case("show <run>", "<run>/run.json", damage=write(J, GARBAGE)),
    "show/run.json a list": case("show <run>", "<run>/run.json", "JSON object",
                                 damage=write(J, "[1]")),
    "show/run.json {}": case("show <run>", "<run>/run.json", damage=write(J, "{}")),
    "show/run.json empty": case("show <run>", "<run>/run.json", damage=write(J, "")),
    "show/run.json cut": case("show <run>", "<run>/run.json", "not valid JSON",
                              damage=write(J, '{"study": "iris-tiny", "spa')),
    "show/run.json a folder": case("show <run>", "<run>/run.json", damage=folder_instead(J)),
    "show/run.json no space": case("show <run>", "<run>/run.json", "space",
                                   damage=del_key(J, "space")),
    "show/run.json space 5": case("show <run>", "<run>/run.json", "space",
                                  damage=set_key(J, "space", 5)),
    "show/run.json newer": case("show <run>", "<run>/run.json", "upgrade nas",
                                damage=set_key(J, "schema_version", 99)),
    "show/run.json study 5": case("show <run>", "<run>/run.json", "study",
                                  damage=set_key(J, "study", 5)),
    "show/run.json budget text": case("show <run>", "<run>/run.json", "budget",
                                      damage=set_key(J, "budget", "big")),
    "show/run.json seed text": case("show <run>", "<run>/run.json", "seed",
                                    damage=set_key(J, "seed", "three")),
    "show/run.json epochs list": case("show <run>", "<run>/run.json", "epochs",
                                      damage=set_key(J, "epochs", [2])),
    "show/no run.json": case("show <run>", "<run>/run.json", "run directory", damage=remove(J)),
    "show/a file": case("show <run>/leaderboard.csv", "<run>/leaderboard.csv", "run directory"),
    "show/no folder": case("show <here>/nowhere", "<here>/nowhere", "does not exist"),
    "show/metrics not json": case("show <run>", "<run>/best/metrics.json",
                                  damage=write(M, "{nope")),
    "show/metrics binary": case("show <run>", "<run>/best/metrics.json", damage=write(M, GARBAGE)),
    "show/metrics a list": case("show <run>", "<run>/best/metrics.json", damage=write(M, "[]")),
    "show/metrics {}": case("show <run>", "<run>/best/metrics.json", damage=write(M, "{}")),
    "show/metrics test text": case("show <run>", "<run>/best/metrics.json", "test",
                                   damage=set_key(M, "test", "good")),
    "show/leaderboard binary": case("show <run>", "<run>/leaderboard.csv",
                                    damage=write(L, GARBAGE)),
    "show/leaderboard empty": case("show <run>", "<run>/leaderboard.csv", damage=write(L, "")),
    "show/leaderboard no state": case("show <run>", "<run>/leaderboard.csv", "state",
                                      damage=write(L, "number,family\n0,fnn\n")),
    "show/leaderboard ragged": case("show <run>", "<run>/leaderboard.csv",
                                    damage=write(L, 'number,state\n0,complete\n1,"x\n')),
    "show/missing argument": case("show", "Missing argument"),
    "show/extra argument": case("show <run> more", "more"),
    "show/markup in the name": case("show <here>/runs[/x]", "<here>/runs[/x]"),
    # -------- nas explain: spec.json, model.pt, run.json, options
    "explain/spec not json": case("explain <run>", "<run>/best/spec.json", damage=write(S, "{")),
    "explain/spec binary": case("explain <run>", "<run>/best/spec.json", damage=write(S, GARBAGE)),
    "explain/spec a list": case("explain <run>", "<run>/best/spec.json", damage=write(S, "[]")),
    "explain/spec no blocks": case("explain <run>", "<run>/best/spec.json",
                                   damage=del_key(S, "blocks")),
    "explain/spec unknown block": case(
        "explain <run>", "<run>/best/spec.json",
        damage=edit_json(S, lambda r: r["blocks"][0].update({"kind": "nope.v1"}))),
    "explain/model pickled object": case("explain <run>", "<run>/best/model.pt",
                                         damage=torch_file(W, lambda: {"w": Fraction(1, 3)})),
    "explain/model pickle payload": case("explain <run>", "<run>/best/model.pt",
                                         damage=write(W, pickle.dumps(Payload(), protocol=2))),
    "predict/model pickle payload, protocol 4": case(  # torch warns before refusing it
        "predict <run> -o <here>/p.csv", "<run>/best/model.pt",
        damage=write(W, pickle.dumps(Payload(), protocol=4))),
    "predict/no spec.json": case("predict <run> -o <here>/p.csv", "<run>/best/spec.json",
                                 "though <run>/best does", "no saved winner", damage=remove(S)),
    "predict/no best": case("predict <run> -o <here>/p.csv", "<run>/best/spec.json",
                            "no saved winner", damage=lambda h: shutil.rmtree(h / RUN / "best")),
    # edited files that still load give another model than the one trained and tested
    "predict/spec edited, still loads": case(
        "predict <run> -o <here>/p.csv", "<run>/best/spec.json",
        "is not the file the search saved", damage=edit_json(S, other_activation)),
    "export/weights edited, still load": case(
        "export <run> --format onnx -o <here>/m.onnx", "<run>/best/model.pt",
        "is not the file the search saved", damage=torch_file(W, shifted_weights)),
    "explain/spec edited, still loads": case(
        "explain <run>", "<run>/best/spec.json", "trained and tested",
        damage=edit_json(S, other_activation)),
    "export/spec a folder": case("export <run> --format torchscript -o <here>/m.pt",
                                 "<run>/best/spec.json", "is not a file",
                                 damage=folder_instead(S)),
    "explain/no spec.json, best/ there": case(
        "explain <run>", "<run>/best/spec.json does not exist though <run>/best does",
        "run the same `nas search` command again (same --out) to retrain the winner",
        damage=remove(S)),
    "explain/spec a folder": case("explain <run>", "<run>/best/spec.json", "is not a file",
                                  damage=folder_instead(S)),
    "explain/model garbage": case("explain <run>", "<run>/best/model.pt", damage=write(W, GARBAGE)),
    "explain/model empty": case("explain <run>", "<run>/best/model.pt", damage=write(W, b"")),
    "explain/model wrong shapes": case("explain <run>", "<run>/best/model.pt", "spec.json",
                                       damage=torch_file(W, wrong_shapes)),
    "explain/model no tensors": case("explain <run>", "<run>/best/model.pt",
                                     damage=torch_file(W, dict)),
    "explain/model a tensor": case("explain <run>", "<run>/best/model.pt",
                                   damage=torch_file(W, lambda: torch.zeros(3))),
    "explain/model missing": case("explain <run>", "<run>/best/model.pt", damage=remove(W)),
    "explain/model a folder": case("explain <run>", "<run>/best/model.pt",
                                   damage=folder_instead(W)),
    "explain/run.json binary": case("explain <run>", "<run>/run.json", damage=write(J, GARBAGE)),
    "explain/run.json a list": case("explain <run>", "<run>/run.json", damage=write(J, "[]")),
    "explain/a file": case("explain <run>/run.json", "<run>/run.json", "run directory"),
    "explain/no folder": case("explain <here>/nowhere", "<here>/nowhere", "does not exist"),
    "explain/unknown dataset": case("explain <run>", "nope", damage=set_key(J, "dataset", "nope")),
    "explain/data_info text": case("explain <run>", "<run>/run.json", "data_info",
                                   damage=set_key(J, "data_info", "x")),
    "explain/samples 0": case("explain <run> --samples 0", "--samples"),
    "explain/samples text": case("explain <run> --samples many", "--samples", "many"),
    "explain/markup in a method": case("explain <run> --methods ig[/x]", "ig[/x]"),
    # -------- run.json's data_info against the model (predict, explain --data): /tmp/oX 4
    "predict/run.json one class name": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json does not fit the model (<run>/best): "
        "its data_info.class_names name 1 class(es) where the model gives 3 outputs, one per "
        "class; the run's record is damaged; re-run the search into a new --out folder",
        damage=data_info(class_names=["only"])),
    "predict/run.json 100000 class names": case(
        "predict <run> --data <here>/new.csv -o <here>/p.csv", "<run>/run.json",
        "class_names name 100000 class(es) where the model gives 3 outputs",
        damage=several(write("new.csv", IRIS), data_info(class_names=["a"] * 100_000))),
    "predict/run.json scales 100000 features": case(
        "predict <run> --data <here>/new.csv -o <here>/p.csv", "<run>/run.json does not fit",
        "(data_info.preprocessing.inputs.mean) scales 100000 feature(s) where the model's "
        "inputs, of shape (4,), have 4", "re-run the search",
        damage=several(write("new.csv", IRIS), scaling("mean", list(range(100_000))))),
    "predict/run.json std 0": case(  # not "new.csv holds 0.1 beyond what float32 holds"
        "predict <run> --data <here>/new.csv -o <here>/p.csv", "<run>/run.json: its "
        "data_info.preprocessing.inputs.std[1] should be a positive number (a scale), not 0; "
        "the run's record is damaged", damage=several(write("new.csv", IRIS),
                                                      scaling("std", [1.0, 0, 1.0, 1.0]))),
    "predict/run.json std text": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json", "inputs.std[0] should be a positive "
        "number", 'not "x"', damage=scaling("std", ["x", 1.0, 1.0, 1.0])),
    "predict/run.json divisor 0": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json", "inputs.divisor should be a "
        "positive number", damage=scaling("method", "scale")),
    "predict/run.json preprocessing 42": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json: its data_info.preprocessing should "
        "be a JSON object, not 42", damage=data_info(preprocessing=42)),
    "predict/run.json feature_names 42": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json: its data_info.feature_names should "
        "be a list of strings, not 42", damage=data_info(feature_names=42)),
    "predict/run.json class_names 42": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json", "data_info.class_names should be a "
        "list of strings", damage=data_info(class_names=42)),
    "predict/run.json two feature names": case(
        "predict <run> --data <here>/new.csv -o <here>/p.csv", "<run>/run.json", "its "
        "data_info.feature_names name 2 feature(s) where the model takes 4 inputs per row",
        damage=several(write("new.csv", IRIS), data_info(feature_names=["a", "b"]))),
    "predict/run.json another input shape": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json", "data_info.input_shape is (5,) "
        "where the model takes (4,)", damage=data_info(input_shape=[5])),
    "show/run.json y_std 0": case(  # every interval had read "0 to 0", the verdict turned
        "show <run>", "<run>/run.json: its data_info.preprocessing.y_std should be positive "
        "numbers (the target's scale), not [0]; the run's record is damaged",
        damage=edit_json(J, lambda r: r["data_info"]["preprocessing"].update(
            y_mean=[1.0], y_std=[0]))),  # fmt: skip
    "report/run.json y_mean text": case(  # a traceback from nas show, the wrong file named here
        "report <run> -o <here>/r.html", "<run>/run.json: its data_info.preprocessing.y_mean "
        "should be numbers", damage=edit_json(J, lambda r: r["data_info"]["preprocessing"].update(
            y_mean=["abc"], y_std=[2.0]))),  # fmt: skip
    "predict/run.json regression": case(
        "predict <run> -o <here>/p.csv", "<run>/run.json", "data_info.task is 'regression' "
        "where the model's is 'classification'", damage=data_info(task="regression")),
    "search/--data npz deflate damaged": case(  # zlib.error had been a traceback
        "search --data <here>/d.npz --trials 1", "Cannot read d.npz as an NPZ archive",
        "save it with numpy.savez", damage=several(compressed("d.npz"), deflate_damaged("d.npz"))),
    "export/run.json class_names 42": case(  # preprocessing.json had been written from it
        "export <run> --format torchscript -o <here>/m.pt", "<run>/run.json",
        "data_info.class_names should be a list of strings", damage=data_info(class_names=42)),
    "export/run.json one class name": case(
        "export <run> --format torchscript -o <here>/m.pt", "<run>/run.json does not fit the "
        "model", "class_names name 1 class(es)", damage=data_info(class_names=["only"])),
    "explain/--data, run.json one class name": case(
        "explain <run> --data <here>/new.csv", "<run>/run.json does not fit the model",
        "class_names name 1 class(es)", "re-run the search",
        damage=several(write("new.csv", IRIS), data_info(class_names=["only"]))),
    "explain/--data, run.json std 0": case(
        "explain <run> --data <here>/new.csv", "<run>/run.json", "inputs.std[3] should be a "
        "positive number", damage=several(write("new.csv", IRIS),
                                          scaling("std", [1.0, 1.0, 1.0, 0.0]))),
    # -------- nas report: study.db, predictions.npz, metrics, spec, -o, --storage
    "report/no study.db": case("report <run>", "<run>/study.db does not exist, so the run's "
                               "trials cannot be read (nas reads them from <run>/study.db); "
                               "restore it, or pass", damage=several(
                                   remove(DB), set_key(J, "storage", "sqlite:///<run>/study.db"))),
    "report/a copy without study.db": case(  # the copy's run.json names the finished run's
        "report <run>", "<run>/study.db does not exist", "(<run>/study.db), never from the "
        "storage its run.json names", "copy that file to <run>/study.db", damage=remove(DB)),
    "report/study.db garbage": case("report <run>", "<run>/study.db", damage=write(DB, GARBAGE)),
    "report/study.db empty": case("report <run>", "<run>/study.db", damage=write(DB, b"")),
    "report/study.db a folder": case("report <run>", "<run>/study.db", damage=folder_instead(DB)),
    "report/study.db of another study": case("report <run>", "<run>/study.db", "iris-tiny",
                                              damage=rename_study),
    "report/recorded sqlite elsewhere": case(  # a copied run: its run.json names the original
        "report <run>", "<run>/study.db does not exist, so the run's trials cannot be read: nas "
        "reads them from the run directory's own study.db (<run>/study.db), never from the "
        "storage its run.json names (sqlite:///<here>/elsewhere.db, where the search kept them; "
        "a copied or moved run keeps that name); copy that file to <run>/study.db, or pass "
        "that storage with --storage URL",
        damage=several(remove(DB), set_key(J, "storage", "sqlite:///<here>/elsewhere.db"))),
    "report/recorded journal elsewhere": case(
        "report <run>", "<run>/study.db", "(<run>/study.db), never from the storage its "
        "run.json names (journal:<here>/j/study.log, where", "kept them; a copied or moved run "
        "keeps that name); pass that storage with --storage URL",
        damage=several(remove(DB), set_key(J, "storage", "journal:<here>/j/study.log"))),
    "report/predictions garbage": case("report <run>", "<run>/best/predictions.npz",
                                       damage=write(P, GARBAGE)),
    "report/predictions empty": case(  # np.load's EOFError had been Click's "aborted."
        "report <run>", "<run>/best/predictions.npz is not the test predictions of this run "
        "(it is damaged: empty or cut short); run the same `nas search`", damage=write(P, b"")),
    "report/predictions deflate damaged": case(  # zlib.error had been a traceback
        "report <run>", "<run>/best/predictions.npz is not the test predictions of this run",
        "decompressing", damage=deflate_damaged(P)),
    "report/predictions no y_true": case("report <run>", "<run>/best/predictions.npz",
                                         damage=npz(P, outputs=np.zeros((3, 3)))),
    "report/predictions pickled": case(
        "report <run>", "<run>/best/predictions.npz",
        damage=npz(P, y_true=np.array([Fraction(1)], dtype=object), outputs=np.zeros((1, 3)))),
    "report/predictions wrong shape": case(
        "report <run>", "<run>/best/predictions.npz",
        damage=npz(P, y_true=np.zeros(4, dtype=int), outputs=np.zeros(4))),
    "report/metrics not json": case("report <run>", "<run>/best/metrics.json",
                                    damage=write(M, "{")),
    "report/metrics a list": case("report <run>", "<run>/best/metrics.json", damage=write(M, "[]")),
    "report/metrics {}": case("report <run>", "<run>/best/metrics.json", damage=write(M, "{}")),
    "report/spec not json": case("report <run>", "<run>/best/spec.json", damage=write(S, "{")),
    "report/top metrics broken": case("report <run>", "<run>/top/1/metrics.json",
                                      damage=write(f"{RUN}/top/1/metrics.json", "{")),
    "report/run.json a list": case("report <run>", "<run>/run.json", damage=write(J, "[]")),
    "report/no run.json": case("report <run>", "<run>/run.json", damage=remove(J)),
    "report/a file": case("report <run>/study.db", "<run>/study.db", "run directory"),
    "report/-o inside a file": case("report <run> -o <run>/run.json/r.html",
                                    "<run>/run.json/r.html"),
    "report/-o unwritable": case("report <run> -o /proc/nas-report.html", "/proc/nas-report.html"),
    "report/--storage of another search": case(
        "report <run> --storage sqlite:///<here>/other.db",
        "study 'iris-tiny' in sqlite:///<here>/other.db holds a search with "
        "dataset='breast_cancer', not 'iris': it is not the study of <run>", "leave it out",
        damage=foreign_study("other.db")),
    "report/study.db of another search": case(
        "report <run>", "study 'iris-tiny' in <run>/study.db holds a search with "
        "dataset='breast_cancer'", "restore the run's own study.db", damage=foreign_study(DB)),
    "report/--storage malformed": case("report <run> --storage notaurl://x", "notaurl://x"),
    "report/--storage missing file": case("report <run> --storage sqlite:///<here>/none.db",
                                          "<here>/none.db"),
    "report/markup in the name": case("report <here>/sales[final]", "<here>/sales[final]"),
    # -------- nas search: options, data, space files
    "search/--trials 0": case("search --dataset iris --trials 0", "--trials", "1"),
    "search/--epochs 0": case("search --dataset iris --epochs 0", "--epochs", "1"),
    "search/--timeout -5": case("search --dataset iris --timeout -5", "--timeout", "1"),
    "search/--jobs 0": case("search --dataset iris --jobs 0", "--jobs", "1"),
    "search/--top 0": case("search --dataset iris --top 0", "--top", "1"),
    "search/--patience 0": case("search --dataset iris --patience 0", "--patience", "1"),
    "search/--threads 0": case("search --dataset iris --threads 0", "--threads", "1"),
    "search/--heartbeat -1": case("search --dataset iris --heartbeat -1", "--heartbeat", "0"),
    "search/--trial-timeout 0": case("search --dataset iris --trial-timeout 0", "--trial-timeout"),
    "search/--samples 0": case("search --dataset iris --samples 0", "--samples", "1"),
    "search/--max-params abc": case("search --dataset iris --max-params abc", "--max-params",
                                    "abc"),
    "search/--seed 1.5": case("search --dataset iris --seed 1.5", "--seed", "1.5"),
    # the flag as typed, not numpy's or Budget's words (/tmp/oD4 F15)
    "search/--seed -1": case("search --dataset iris --seed -1", "--seed", "-1", "0"),
    "search/--seed 2**32": case("search --dataset iris --seed 4294967296", "--seed",
                                "4294967295"),
    "spaces/--seed -1": case("spaces fnn --dataset iris --sample 1 --seed -1", "--seed", "0"),
    "search/--max-params -1": case("search --dataset iris --max-params -1",
                                   "--max-params must be a positive whole number, got -1; "
                                   "leave it out for no limit"),
    "search/--max-flops 1.5": case("search --dataset iris --max-flops 1.5",
                                   "--max-flops must be a positive whole number, got 1.5"),
    "search/--max-latency-ms 0": case("search --dataset iris --max-latency-ms 0",
                                      "--max-latency-ms must be a positive number, got 0"),
    "search/--max-memory-mb inf": case("search --dataset iris --max-memory-mb inf",
                                       "--max-memory-mb must be a positive number, got inf"),
    "search/--sampler bogus": case("search --dataset iris --sampler bogus", "--sampler", "bogus",
                                   "tpe", "random", "nsga2", "gp"),
    "search/--pruner bogus": case("search --dataset iris --pruner bogus", "--pruner", "bogus",
                                  "hyperband", "median", "none"),
    "search/unknown option": case("search --dataset iris --trails 3", "--trails"),
    "search/no value": case("search --dataset", "--dataset"),
    "search/extra argument": case("search iris", "iris"),
    "search/missing data[...]": case("search --data sales[final].csv", "sales[final].csv",
                                     damage=write("sales.csv", CSV)),
    "search/target with markup": case("search --data heart.csv --target heart_rate[/min]",
                                      "heart_rate[/min]", damage=write("heart.csv", CSV)),
    "search/toml hint": case("search --dataset iris --space bad.toml", "bad.toml", "[sections]",
                             damage=write("bad.toml", BAD_TOML)),
    "search/missing toml[...]": case("search --dataset iris --space s[1].toml", "s[1].toml"),
    "search/unknown dataset": case("search --dataset nope", "nope"),
    "search/--out holds a user's study.db": case(
        "search --dataset iris --out <here>/mine", "<here>/mine", "not an Optuna study",
        "customers", damage=user_sqlite("mine/study.db")),
    "search/--out holds a text study.db": case(
        "search --dataset iris --out <here>/mine", "<here>/mine", "not an Optuna study",
        damage=write("mine/study.db", "my notes\n")),
    "search/resume on an empty study.db": case(
        "search --dataset iris --out <run>", "<run>/study.db holds no study (it is empty, 0 "
        "bytes), but <run>/run.json records a search whose trials ran (its best/ holds a "
        "winner); searching there would start afresh and lose the record of those trials. "
        "Restore study.db from a backup, or pass --out a new folder to search afresh.",
        damage=write(DB, b"")),
    "search/resume on a study.db of another study": case(
        "search --dataset iris --out <run>", "<run>/study.db holds no study (none named "
        "'iris-tiny'; only 'someone-else'), but", damage=rename_study),
    "search/resume on a study.db without tables": case(
        "search --dataset iris --out <run>", "<run>/study.db holds no study (no Optuna tables)"
        ", but <run>/run.json records a search whose trials ran (its leaderboard.csv lists 3 "
        "trial(s))", damage=several(lambda h: shutil.rmtree(h / RUN / "best"), remove(DB),
                                   user_sqlite(DB))),
    # -------- nas worker
    "worker/no options": case("worker", "--study"),  # --storage may come from the environment
    "worker/no storage": case("worker --study s", "No storage URL: pass --storage URL (or set "
                              "NAS_STORAGE_URL)"),
    "worker/no study": case("worker --storage <here>/j.log", "--study"),
    "worker/malformed storage": case("worker --storage notaurl://x --study s", "notaurl://x"),
    "worker/--trials 0": case("worker --storage notaurl://x --study s --trials 0", "--trials"),
    "worker/--index 0": case("worker --storage notaurl://x --study s --index 0", "--index"),
    "worker/--threads 0": case("worker --storage notaurl://x --study s --threads 0", "--threads"),
    "worker/--heartbeat -1": case("worker --storage notaurl://x --study s --heartbeat -1",
                                  "--heartbeat"),
    "worker/--timeout 0": case("worker --storage notaurl://x --study s --timeout 0", "--timeout"),
    # -------- nas spaces, nas datasets, nas itself
    "spaces/unknown space": case("spaces nope", "nope"),
    "spaces/--sample -1": case("spaces fnn --sample -1", "--sample"),
    "spaces/--sample without data": case("spaces fnn --sample 2", "--dataset"),
    "spaces/--seed text": case("spaces fnn --seed abc", "--seed", "abc"),
    "spaces/unknown dataset": case("spaces fnn --sample 1 --dataset nope", "nope"),
    "spaces/missing toml[...]": case("spaces s[1].toml", "s[1].toml"),
    "spaces/toml hint": case("spaces bad.toml", "bad.toml", "[sections]",
                             damage=write("bad.toml", BAD_TOML)),
    "datasets/unknown option": case("datasets --bogus", "--bogus"),
    "nas/unknown command": case("serch", "serch", "search"),
}  # fmt: skip

_FINISHED: list[Path] = []  # the finished run's folder, for damage that reads it


def tree_hash(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: its relative path and (files) a content hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def here(tmp_path: Path, finished_run) -> Path:
    """A folder holding a copy of the finished run (``run/``)."""
    assert finished_run.result.exit_code == 0
    _FINISHED[:] = [finished_run.run_dir]
    shutil.copytree(finished_run.run_dir, tmp_path / RUN)
    # as a search process leaves it when it exits: its -wal merged into study.db, no -shm
    # (the fixture's search ran in this process, whose connection may still be open)
    with contextlib.closing(sqlite3.connect(tmp_path / RUN / "study.db")) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert not list((tmp_path / RUN).glob("study.db-*"))
    return tmp_path


def expand(text: str, here: Path) -> str:
    return text.replace("<run>", str(here / RUN)).replace("<here>", str(here))


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_input_gets_one_line(here: Path, cli: Callable[..., Any], name: str) -> None:
    c = CASES[name]
    if c.damage is not None:
        c.damage(here)
    before = tree_hash(here)
    result = cli(*(expand(a, here) for a in c.args))  # from here: cli chdirs to tmp_path
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr,
                                   result.exception)  # fmt: skip
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in c.words:
        assert expand(word, here) in lines[0], (expand(word, here), lines[0])
    assert "the payload ran" not in result.stdout + result.stderr
    assert tree_hash(here) == before  # nothing created, changed or removed


# ---------------------------------------------------------------- the same, from Python


def test_a_damaged_data_info_is_a_nas_error_of_load_predictor(here: Path) -> None:
    """nas.load_predictor had taken run.json's data_info as it found it: 42 for a list of names
    was a bare TypeError, and one class name for a model of three outputs an IndexError only
    when probabilities were asked for (/tmp/oX 4). Each is now a NasError as it loads."""
    import nas
    from nas.errors import NasError

    run = here / RUN
    intact = (run / "run.json").read_text()
    damages = {
        r"class_names name 1 class\(es\) where the model gives 3 outputs": data_info(
            class_names=["only"]),
        "data_info.feature_names should be a list of strings, not 42": data_info(
            feature_names=42),
        r"inputs\.std\[2\] should be a positive number \(a scale\), not 0": scaling(
            "std", [1.0, 1.0, 0, 1.0]),
        r"inputs\.mean\) scales 5 feature\(s\)": scaling("mean", [0.0] * 5),
    }  # fmt: skip
    for words, damage in damages.items():
        damage(here)
        with pytest.raises(NasError, match=rf"^{re.escape(str(run / 'run.json'))}.*{words}.*"
                           "re-run the search into a new --out folder"):  # fmt: skip
            nas.load_predictor(run)
        (run / "run.json").write_text(intact)
    assert nas.load_predictor(run).predict(np.zeros((2, 4), dtype=np.float32)).shape == (2,)


def test_an_empty_predictions_npz_is_a_nas_error_of_report_and_shown_as_garbage_is(
    here: Path,
) -> None:
    """0 bytes: np.load's EOFError had escaped nas.report bare, and the CLI printed Click's
    "aborted." (/tmp/oX 5). nas.show judges the winner without the file, as for garbage."""
    import nas
    from nas.errors import NasError

    run = here / RUN
    write(P, b"")(here)
    with pytest.raises(NasError, match=r"predictions\.npz is not the test predictions of this "
                       r"run \(it is damaged: empty or cut short\)"):  # fmt: skip
        nas.report(run, here / "r.html")
    empty = nas.show(run)["judged"]
    write(P, GARBAGE)(here)
    assert empty == nas.show(run)["judged"] and empty


# ---------------------------------------------------------------- reading creates nothing


def test_reading_a_run_opens_its_own_study_only_and_changes_nothing(
    here: Path, cli: Callable[..., Any]
) -> None:
    import nas
    from nas.reporting import collect

    set_key(J, "storage", "sqlite:///<here>/elsewhere.db")(here)  # a run from anyone
    before = tree_hash(here)
    assert cli("show", here / RUN).exit_code == 0
    report = cli("report", here / RUN, "-o", here / "report.html")
    assert report.exit_code == 0, report.stderr
    assert len(collect(here / RUN)["trials"]) == 3  # the trials of run/study.db
    loaded = nas.load_run(here / RUN)  # its study stays open while the tree is compared
    assert len(loaded.study.trials) == 3
    after = tree_hash(here)
    assert not (here / "elsewhere.db").exists()  # never opened, so never created
    # study.db read-only: no -wal or -shm beside it, no byte changed; only the report is new
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {
        "report.html"
    }


def test_load_run_never_opens_the_storage_run_json_names(here: Path) -> None:
    import nas
    from nas.errors import StorageError

    run = here / RUN
    (run / "study.db").unlink()
    set_key(J, "storage", "journal:<here>/j/study.log")(here)
    with pytest.raises(StorageError, match=r"study\.db does not exist.*j/study\.log.*--storage"):
        nas.load_run(run)
    assert not (here / "j").exists()


def test_show_and_explain_read_no_study_so_take_no_storage(
    here: Path, cli: Callable[..., Any]
) -> None:
    """What the README says of them: they read the run's files only (a run whose study is in
    PostgreSQL, or lost, still shows and explains); only `nas report` takes --storage."""
    (here / DB).unlink()
    assert cli("show", here / RUN).exit_code == 0
    explained = cli("explain", here / RUN, "--samples", "8", "--methods", "saliency")
    assert explained.exit_code == 0, explained.stderr
    refused = cli("show", here / RUN, "--storage", "sqlite:///x.db")
    assert refused.exit_code == 2 and "No such option: --storage" in refused.stderr
    assert "--storage" in cli("report", "--help").stdout


def test_load_run_refuses_a_study_of_another_search_under_the_same_name(here: Path) -> None:
    import nas
    from nas.errors import StorageError

    foreign_study("other.db")(here)
    with pytest.raises(StorageError, match=r"dataset='breast_cancer', not 'iris': it is not"):
        nas.load_run(here / RUN, storage=f"sqlite:///{here / 'other.db'}")
    assert len(nas.load_run(here / RUN).study.trials) == 3  # its own study.db reads as before


@pytest.mark.parametrize("lost", ["attributions.npz", "explanations.json"])
def test_a_report_says_which_file_of_explain_is_missing(here: Path, lost: str) -> None:
    """Not only "no explanations": the report's alert names the damaged folder, the missing
    file and the command that remakes it."""
    from nas.reporting import collect

    run = here / RUN
    (run / "explain" / lost).unlink()
    data = collect(run)
    assert data["explanations"] is None
    assert {"level": "warn", "text": f"{run / 'explain'} is damaged: its {lost} is missing, so "
            f"the explanations are not shown; run `nas explain {run}` to remake it."} in (
        data["alerts"])  # fmt: skip


def test_a_search_that_stopped_before_its_first_trial_resumes_on_its_empty_study_db(
    here: Path, cli: Callable[..., Any], finished_run
) -> None:
    """run.json written, no trial stored (no best/, no leaderboard rows): nothing to lose, so
    the same command starts the study afresh in the empty study.db."""
    run = here / RUN
    for p in list(run.iterdir()):
        if p.name != "run.json":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    (run / "study.db").write_bytes(b"")
    (run / "leaderboard.csv").write_text(",".join(("number", "state")) + "\n")  # header only
    args = list(finished_run.args)
    args[args.index("--out") + 1] = str(run)
    args[args.index("--trials") + 1] = "1"
    result = cli(*args, "--no-explain", "--no-report")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert (run / "best" / "model.pt").is_file()


def test_a_report_of_a_spec_json_from_another_model_says_so_in_red(here: Path) -> None:
    """best/spec.json swapped in (here: 4 more units) no longer matches the summary that
    best/metrics.json recorded of the model it scored: the report's first alert says so."""
    from nas.reporting import collect

    run = here / RUN
    assert not [a for a in collect(run)["alerts"] if "disagree" in a["text"]]
    recorded = json.loads((run / "best" / "metrics.json").read_text())["summary"]
    units = json.loads((run / "best" / "spec.json").read_text())["blocks"][0]["params"]["units"]
    edit_json(S, lambda r: r["blocks"][0]["params"].update(units=units + 4))(here)
    swapped = recorded.replace(f"dense({units},", f"dense({units + 4},", 1)
    assert swapped != recorded
    assert collect(run)["alerts"][0] == {"level": "error", "text": (
        f"The winner's files disagree: {run / 'best' / 'spec.json'} is {swapped!r} but "
        f"{run / 'best' / 'metrics.json'} records {recorded!r} (one was replaced), so the "
        "architecture shown may not be the model scored; run the same `nas search` command "
        "again (same --out) to retrain the winner and rewrite it.")}  # fmt: skip


def test_a_run_saved_before_summaries_named_norm_and_dropout_is_not_called_swapped(
    here: Path,
) -> None:
    """Runs saved before 2026-12-07 recorded each block's label alone ("dense(16,relu)", where
    the summary now reads "dense(16,relu,bn)"): the same spec, said shorter, is no alert; a
    short summary of another spec still is."""
    from nas.reporting import collect
    from search_spaces.spec import ArchSpec

    run = here / RUN
    spec = ArchSpec.from_json((run / "best" / "spec.json").read_text())
    short = spec.summary(details=False)
    assert short != spec.summary()  # the winner has dropout or a norm the old label hid
    edit_json(f"{RUN}/best/metrics.json", lambda m: m.update(summary=short))(here)
    assert not [a for a in collect(run)["alerts"] if "disagree" in a["text"]]
    other = short.replace("dense(", "dense(9", 1)
    edit_json(f"{RUN}/best/metrics.json", lambda m: m.update(summary=other))(here)
    assert "disagree" in collect(run)["alerts"][0]["text"]


# ---------------------------------------------------------------- the command line itself


def test_usage_errors_are_one_line_from_the_console_script_and_help_is_help(
    here: Path, cli: Callable[..., Any]
) -> None:
    import subprocess
    import sys

    entry = [sys.executable, "-c", "from nas.cli import main; main()"]
    bad = subprocess.run([*entry, "search", "--trials", "0"], capture_output=True, text=True,
                         cwd=here, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "error: Invalid value for '--trials': Input should be greater than or equal to 1; "
        "got '0' (see `nas search --help`)."
    ]
    for args, code in ((["--help"], 0), (["search", "--help"], 0), ([], 2)):  # `nas`: its help
        shown = cli(*args)
        assert shown.exit_code == code and "Usage" in shown.stdout and "error" not in shown.stderr


def test_user_text_is_printed_as_it_is_not_as_markup(here: Path, cli: Callable[..., Any]) -> None:
    set_key(J, "study", "iris[/x] [bold]tiny")(here)
    result = cli("show", here / RUN)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stdout.startswith("iris[/x] [bold]tiny  data: iris")


def test_data_notes_and_warnings_are_said_before_the_first_trial_and_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user who reads "3 missing values were filled" or a space's warning as the search
    starts can stop it and mend the file; the summary at the end does not say them again."""
    import nas
    import nas.session as session
    from nas.commands.search import render_result

    rng = np.random.default_rng(0)
    rows = ["a,b,y"] + [f"{a:.3f},{b:.3f},{int(a > b)}" for a, b in rng.normal(size=(90, 2))]
    rows[5] = "0.1,,1"  # three missing cells
    rows[9], rows[12] = ",0.2,0", "1.5,,1"
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    space = tmp_path / "s.toml"
    space.write_text('space = "fnn"\n[train]\naugment = { choices = ["none", "shift"] }\n')
    before: list[str] = []
    real = session._optimize
    monkeypatch.setattr(
        session, "_optimize", lambda *a: (before.append(capsys.readouterr().err), real(*a))[1]
    )
    result = nas.search(data=str(tmp_path / "d.csv"), target="y", space=str(space), n_trials=1,
                        epochs=1, out=tmp_path / "run", threads=1, progress=True,
                        finalize=False)  # fmt: skip
    said = [line for line in before[0].splitlines() if line.startswith(("note:", "warning:"))]
    assert said[0].startswith("note: task: classification, inferred from target 'y'")
    filled = "the median or most frequent value of the training rows: 'a' (1), 'b' (2)."
    assert said[1] == f"note: 3 missing feature value(s) of d.csv were filled in with {filled}"
    assert said[2].startswith("warning: the space asks for train.augment") and len(said) == 3
    assert result.said == len(result.warnings) == 1
    result.warnings.append("a note of the retrain")
    monkeypatch.setattr(result, "leaderboard", result.leaderboard.iloc[:0])
    render_result(result)
    end = capsys.readouterr().err
    assert "a note of the retrain" in end
    assert "augment" not in end and "missing" not in end and "inferred" not in end


def test_a_tampered_best_epoch_in_the_study_gets_one_line_when_the_search_retrains(
    here: Path, cli: Callable[..., Any], finished_run
) -> None:
    """The retrain's length comes from the study (each trial's best_epoch): a value that is not
    a whole number of epochs >= 1, written into study.db, ends the resumed search with one line
    naming the trial and the fix, not a traceback from int()."""
    with contextlib.closing(sqlite3.connect(here / RUN / "study.db")) as db, db:
        db.execute("UPDATE trial_user_attributes SET value_json = '\"abc\"' "
                   "WHERE key = 'best_epoch'")  # fmt: skip
    args = list(finished_run.args)
    args[args.index("--out") + 1] = str(here / RUN)
    args[args.index("--trials") + 1] = "4"  # one more trial, then the winners are retrained
    result = cli(*args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    # the live view of the one new trial comes first; the error is one line, the last
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: Trial "), result.stderr
    assert result.stderr.splitlines()[-1] == errors[0]
    assert "best_epoch 'abc'" in errors[0] and "new --out folder" in errors[0]


def test_a_winner_without_its_sha256_json_is_said_to_be_unchecked_wherever_it_is_used(
    here: Path, cli: Callable[..., Any]
) -> None:
    """Deleting best/sha256.json had switched the tamper check off without a word: an edited
    spec or replaced weights then loaded as the model that was trained and tested. Each way
    in that uses the winner now says that nothing checks its files."""
    import nas
    from nas.reporting import collect

    run = here / RUN
    missing = f"{run / 'best' / 'sha256.json'} is missing, so nothing checks that"
    assert nas.show(run)["provenance"] == []
    assert not [a for a in collect(run)["alerts"] if "sha256.json" in a["text"]]
    clean = cli("predict", run, "-o", here / "clean.csv")
    assert clean.exit_code == 0 and "sha256" not in clean.stdout + clean.stderr
    (run / "best" / "sha256.json").unlink()
    shown = cli("show", run)
    assert shown.exit_code == 0, (shown.stderr, shown.exception)
    said = " ".join((shown.stdout + shown.stderr).split())
    assert said.count(f"warning: {missing} best/spec.json and model.pt") == 1  # once
    explained = cli("explain", run, "--samples", "8", "--methods", "integrated_gradients")
    assert explained.exit_code == 0, (explained.stderr, explained.exception)
    assert f"warning: {missing}" in " ".join(explained.stdout.split())
    predicted = cli("predict", run, "-o", here / "p.csv")
    assert predicted.exit_code == 0, (predicted.stderr, predicted.exception)
    assert f"note: {missing}" in " ".join(predicted.stdout.split())
    (note,) = nas.show(run)["provenance"]
    assert note.startswith(missing) and note.endswith("to retrain the winner and rewrite it.")
    assert {"level": "warn", "text": note} in collect(run)["alerts"]
    with pytest.warns(UserWarning, match="sha256.json is missing"):
        nas.load_predictor(run).predict(np.zeros((2, 4), dtype=np.float32))
    from nas.exporting import export_run

    assert note in export_run(run, "torchscript", here / "model.pt").notes


def test_a_run_recorded_by_a_newer_nas_or_another_torch_release_is_noted(
    here: Path, cli: Callable[..., Any]
) -> None:
    """A run.json of nas 9.9.0 had been read by this nas without a note; so had a model
    trained with another torch release, whose outputs can differ in their last digits."""
    import nas
    from nas._version import __version__
    from nas.run import version_notes

    here_torch = torch.__version__
    assert version_notes({"nas": __version__, "torch": here_torch}) == []
    assert version_notes({"nas": "0.0.1", "torch": here_torch.split("+")[0]}) == []  # older
    assert version_notes({}) == [] and version_notes("junk") == []  # type: ignore[arg-type]
    edit_json(J, lambda r: r["versions"].update(nas="9.9.0", torch="1.13.1+cu117"))(here)
    newer, other_torch = nas.show(here / RUN)["provenance"]
    assert newer == (f"this run was written by nas '9.9.0', newer than this nas ({__version__}): "
                     "fields it added may be read wrongly or not at all; upgrade nas to read "
                     "the run as it was written.")  # fmt: skip
    assert other_torch == (f"the model was trained with torch 1.13.1+cu117 and runs here on "
                           f"torch {here_torch}: its outputs can differ from the report's in "
                           "their last digits.")  # fmt: skip
    shown = cli("show", here / RUN)
    assert shown.exit_code == 0 and "newer than this nas" in shown.stderr
    from nas.reporting import collect

    alerts = [a["text"] for a in collect(here / RUN)["alerts"] if a["level"] == "warn"]
    assert newer in alerts and other_torch in alerts  # the report says so too (/tmp/oZ D7)
    edit_json(J, lambda r: r["versions"].update(nas="<b>dev</b>", torch=here_torch))(here)
    (odd,) = nas.show(here / RUN)["provenance"]
    assert odd.startswith("this run was written by nas '<b>dev</b>', not a version, unlike")


def test_a_spec_edited_to_a_huge_layer_is_refused_before_it_is_built(
    here: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A received spec.json with units = 30,000,000 (sha256.json recomputed to match) beside
    150 KB of weights had been built in full, 1.8 GB in 12 s, before the weights said it was
    not theirs; 4e8 units would have asked for 20 GB (/tmp/oX 2). The spec's shapes are now
    compared with the weights' on torch's meta device first: nothing is allocated."""
    import nas.reading
    from nas import run as rundir

    run = here / RUN
    units = json.loads((run / "best" / "spec.json").read_text())["blocks"][0]["params"]["units"]
    edit_json(S, lambda r: r["blocks"][0]["params"].update(units=30_000_000))(here)
    rundir.write_json(run / "best" / rundir.SUMS,
                      {n: rundir.file_sha256(run / "best" / n) for n in rundir.SUMMED})  # fmt: skip
    devices: list[str] = []
    real = nas.reading.build_spec

    def build(spec: Any) -> Any:
        devices.append(str(torch.get_default_device()))
        return real(spec)

    monkeypatch.setattr(nas.reading, "build_spec", build)
    with pytest.raises(nas.reading.NasError) as raised:
        nas.reading.load_model(run)
    assert devices == ["meta"]  # never built for real
    weight = next(k for k in torch.load(run / "best" / "model.pt", weights_only=True)
                  if k.endswith("weight"))  # fmt: skip
    message, best = str(raised.value), run / "best"
    assert message.startswith(f"{best / 'model.pt'} does not hold the weights of "
                              f"{best / 'spec.json'} ({weight!r} is [{units}, ")  # fmt: skip
    assert "30000000" in message and message.endswith("to retrain the winner and rewrite it.")
    shown = cli("predict", run, "-o", here / "p.csv")
    assert shown.exit_code == 2 and shown.stderr.startswith("error: ")
    assert shown.stderr.count("\n") == 1 and "does not hold the weights" in shown.stderr
    # the report shows the spec's stages from a meta-device build too (it had built 16.8 GB
    # to say the files disagree, /tmp/oZ D1)
    import search_spaces
    from nas.reporting import collect

    built: list[str] = []
    whole = search_spaces.build_model
    monkeypatch.setattr(
        search_spaces,
        "build_model",
        lambda spec: built.append(str(torch.get_default_device())) or whole(spec),
    )
    data = collect(run)
    assert built == ["meta"]  # its linear layer alone: 4 x 30,000,000 weights and the biases
    assert data["stages"][0]["n_params"] >= 5 * 30_000_000


def test_a_runs_folder_linked_outside_it_is_not_written_through(
    here: Path, cli: Callable[..., Any]
) -> None:
    """A received run whose export/ and predictions/ were links to another folder: nas
    export overwrote that folder's model.onnx and nas predict its evil_new.csv (/tmp/oX 3).
    Each is now one line naming the link; the other folder is unchanged."""
    run, victim = here / RUN, here / "victim"
    for name, kept in (("export", "model.torchscript.pt"), ("predictions", "test.csv"),
                       ("explain-new", "new/attributions.csv")):  # fmt: skip
        (victim / name / kept).parent.mkdir(parents=True, exist_ok=True)
        (victim / name / kept).write_text("precious\n")
        (run / name).symlink_to(victim / name, target_is_directory=True)
    import pandas as pd

    names = json.loads((run / "run.json").read_text())["data_info"]["feature_names"]
    pd.DataFrame(np.zeros((3, 4)), columns=names).to_csv(here / "new.csv", index=False)
    before = tree_hash(victim)
    for args, link in ((("predict", run), "predictions"),
                       (("export", run, "--format", "torchscript"), "export"),
                       (("explain", run, "--data", here / "new.csv"), "explain-new")):  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output, result.exception)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert f"{run / link} is a link to {(victim / link).resolve()}, outside the run" in (
            " ".join(result.stderr.split()))  # fmt: skip
    assert tree_hash(victim) == before
    # a resumed search rewrites best/ and top/: linked outside, it is refused before it runs
    # (best/'s six files had been rewritten in the other folder, /tmp/oZ D2, D3)
    for link in ("best", "top"):
        moved = here / f"theirs-{link}"
        if (run / link).is_dir():
            shutil.move(run / link, moved)
        else:
            moved.mkdir()
        (moved / "mine.txt").write_text("mine\n")
        (run / link).symlink_to(moved, target_is_directory=True)
        kept = tree_hash(moved)
        space = _FINISHED[0].parent / "space.toml"  # the finished run's own space file
        args = f"--space {space} --trials 4 --epochs 2 --seed 3 --study iris-tiny --out {run}"
        result = cli("search", "--dataset", "iris", *args.split())
        assert result.exit_code == 2, (result.output, result.exception)
        assert f"{run / link} is a link to {moved.resolve()}, outside the run directory" in (
            " ".join(result.stderr.split()))  # fmt: skip
        assert "give -o" not in result.stderr and tree_hash(moved) == kept
        (run / link).unlink()
        shutil.move(moved, run / link) if link == "best" else shutil.rmtree(moved)
    # a link that stays inside the run is the run's own folder: written as before
    (run / "predictions").unlink()
    (run / "mine").mkdir()
    (run / "predictions").symlink_to(run / "mine", target_is_directory=True)
    assert cli("predict", run).exit_code == 0 and (run / "mine" / "test.csv").is_file()


def test_control_characters_in_a_runs_text_are_shown_not_obeyed(
    here: Path, cli: Callable[..., Any]
) -> None:
    """run.json's study holding ESC ] 0; (retitle the terminal) and a data note ESC [2J (clear
    the screen) reached the terminal raw from `nas show` (/tmp/oX 6): they are shown as escapes,
    as a note already showed them; Rich markup stays literal too."""
    set_key(J, "study", "iris\x1b]0;owned\x07 [b]x")(here)
    edit_json(J, lambda r: r["data_info"].update(notes=["d\x1b[2J.csv\u202e"]))(here)
    result = cli("show", here / RUN)
    assert result.exit_code == 0, (result.stderr, result.exception)
    printed = result.stdout + result.stderr
    assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
    assert result.stdout.startswith("iris\\x1b]0;owned\\x07 [b]x  data: ")
    assert "note: d\\x1b[2J.csv\\u202e" in result.stdout
    from nas.commands._app import safe
    from nas.terminal import plain

    assert plain("a\tb\nc\x1b[0m\x9b") == "a\tb\nc\\x1b[0m\\x9b"
    assert safe("[red]\x1b") == "\\[red]\\x1b"
    # a column name's ESC in the notes a search prints as it starts (/tmp/oZ D6)
    # the column is a copy of the target: the leak note names it twice, the second time
    # quoted for a shell (--drop '...'), where the ESC had been printed raw
    rows = ["a\x1b[2Jx,b,y"] + [f"{i % 2},{i % 7},{i % 2}" for i in range(60)]
    (here / "ctl.csv").write_text("\n".join(rows) + "\n")
    args = f"--target y --trials 1 --epochs 1 --no-explain --no-report --out {here / 'ctl'}"
    searched = cli("search", "--data", here / "ctl.csv", *args.split())
    assert searched.exit_code == 0, (searched.stderr, searched.exception)
    assert "--drop 'a\\x1b[2Jx'" in " ".join(searched.stderr.split())
    assert "\x1b" not in searched.stdout + searched.stderr
