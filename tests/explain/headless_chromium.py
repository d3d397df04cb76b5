"""Headless Chromium driven over its DevTools protocol on ``--remote-debugging-pipe``.

The pipe is fd 3 (commands in) and fd 4 (replies and events out), NUL-terminated JSON: no
websocket library and no driver download. :class:`Page` opens one file in a fresh tab with the
network off and records everything that went wrong while it loaded. Used by the report's
browser tests; any test can use it for a page of its own. :meth:`Page.pdf` prints the page to
PDF, and :class:`Pdf` reads such a file back (its pages, and the text on each) with zlib alone.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
# Everything that could reach a network or phone home is off; the proxy is a closed port, so a
# request that slips past the offline emulation fails and is recorded.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--window-size=1280,900",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The first Chromium-like binary on PATH."""
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((p for n in names if (p := shutil.which(n))), None)


class Chromium:
    """A headless Chromium and a minimal DevTools-protocol client over its debugging pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        cmd_r, self._cmd_w = os.pipe()  # we write commands, Chromium reads them on fd 3
        self._evt_r, evt_w = os.pipe()  # Chromium writes replies and events on fd 4

        def to_fds_3_and_4() -> None:  # in the child, before exec
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)  # out of the way of 3 and 4
            b = fcntl.fcntl(evt_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(a, 3)  # dup2 clears close-on-exec, so 3 and 4 survive exec
            os.dup2(b, 4)

        self.log = profile / "chromium.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                close_fds=False,
                preexec_fn=to_fds_3_and_4,
            )
        os.close(cmd_r)
        os.close(evt_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self.on_event: Callable[[dict[str, Any]], None] | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._evt_r, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" not in msg and self.on_event:
                    self.on_event(msg)  # must not wait for a reply: this is the reader thread
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()

    def post(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        """Send a command without waiting; returns its id."""
        with self._cond:
            self._next_id += 1
            mid = self._next_id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        return mid

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str = "",
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Send a command and wait for its result."""
        mid = self.post(method, params, session)
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._replies, timeout):
                raise TimeoutError(f"no reply to {method} in {timeout} s; see {self.log}")
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str, timeout: float = 30) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (already received or arriving)."""

        def found() -> dict[str, Any] | None:
            return next(
                (e for e in self.events if e["method"] == method and e.get("sessionId") == session),
                None,
            )

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"no {method} in {timeout} s")
            return found()  # type: ignore[return-value]

    def close(self) -> None:
        """Ask Chromium to quit, then make sure it did."""
        try:
            self.post("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)
        finally:
            os.close(self._cmd_w)


class Page:
    """One report opened in a fresh tab, with everything that went wrong while loading it."""

    def __init__(self, browser: Chromium, path: Path, timeout: float = 45) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.target = target
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        browser.wait_event("Page.loadEventFired", self.session, timeout)
        deadline = time.monotonic() + timeout
        while self.evaluate("document.body.getAttribute('data-plots-ready')") is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the plots of {path} were not drawn in {timeout} s")
            time.sleep(0.1)

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JS expression in the page."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full: bool = False) -> bytes:
        """A PNG of the viewport (or the whole page), written to ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full:
            h = self.evaluate("document.documentElement.scrollHeight")
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": 1280, "height": h, "scale": 1},
            )
        png = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        path.write_bytes(png)
        return png

    def pdf(self, path: Path | None = None, timeout: float = 60, **params: Any) -> bytes:
        """The page printed to PDF (DevTools ``Page.printToPDF``), as Chromium's print dialog
        would: ``beforeprint`` and ``afterprint`` fire, the print media rules apply. Backgrounds
        are printed and the page's ``@page`` size wins unless ``params`` say otherwise (any
        ``Page.printToPDF`` parameter: ``paperWidth``, ``landscape``, ...). Written to ``path``
        when given."""
        options = {"printBackground": True, "preferCSSPageSize": True, **params}
        reply = self.browser.send("Page.printToPDF", options, self.session, timeout)
        data = base64.b64decode(reply["data"])
        if path is not None:
            path.write_bytes(data)
        return data

    def emulate_media(self, media: str = "print") -> None:
        """Apply the ``@media`` rules of ``media`` (``"print"``, ``"screen"``; ``""`` undoes it)
        to the live page, to look at the print layout through the DOM."""
        self.send("Emulation.setEmulatedMedia", {"media": media})

    def problems(self) -> dict[str, list[str]]:
        """Console errors, uncaught exceptions, error logs, requests off the machine, failed
        loads and JS dialogs seen in this tab so far."""
        out: dict[str, list[str]] = {
            "console": [],
            "exception": [],
            "log": [],
            "request": [],
            "failed": [],
            "dialog": [],
        }
        for e in list(self.browser.events):
            if e.get("sessionId") != self.session:
                continue
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out["console"].append(json.dumps(p.get("args"))[:300])
            elif m == "Runtime.exceptionThrown":
                out["exception"].append(json.dumps(p.get("exceptionDetails"))[:300])
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out["log"].append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif m == "Network.requestWillBeSent" and not p["request"]["url"].startswith(
                LOCAL_SCHEMES
            ):
                out["request"].append(p["request"]["url"])
            elif m == "Network.loadingFailed":
                out["failed"].append(f"{p.get('errorText')} {p.get('requestId')}")
            elif m == "Page.javascriptDialogOpening":
                out["dialog"].append(f"{p.get('type')}: {p.get('message')}")
        return {k: v for k, v in out.items() if v}

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


def png_facts(png: bytes) -> tuple[int, int, int]:
    """(width, height, distinct rows) of a PNG, from its chunks and zlib stream alone: a single
    colour image has at most a couple of distinct (filtered) rows."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = len(raw) // height
    rows = {raw[i : i + stride] for i in range(0, len(raw), stride)}
    return width, height, len(rows)


_OBJECT = re.compile(rb"(\d+) (\d+) obj\b")
_REF = re.compile(rb"(\d+) \d+ R")
_TEXT_OPS = re.compile(
    rb"/([^\s/\[\]<>()]+)\s+[-\d.]+\s+Tf|<([0-9A-Fa-f\s]*)>\s*Tj|\[([^\]]*)\]\s*TJ|"
    rb"\b(ET|T\*|Td|TD)\b|/([^\s/\[\]<>()]+)\s+Do\b"
)


class Pdf:
    """A PDF as Chromium (Skia) writes it, read with zlib alone: its objects, its pages and the
    text each page shows. Text comes from the glyph ids of the ``Tj`` / ``TJ`` operators mapped
    through each font's ``ToUnicode`` CMap, in drawing order; glyph runs are separated by a
    space and text blocks by a new line, so compare text with its whitespace squeezed
    (:func:`squeeze`). Enough for Chromium's own output, not a general PDF reader."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(b"%PDF-"):
            raise ValueError("not a PDF")
        self.data = data
        self.objects: dict[int, tuple[bytes, bytes | None]] = {}  # number: (dictionary, stream)
        pos = 0
        while m := _OBJECT.search(data, pos):
            head_start = m.end()
            end = data.find(b"endobj", head_start)
            if end < 0:
                break
            stream_at = data.find(b"stream", head_start, end)
            if stream_at < 0:
                self.objects[int(m.group(1))] = (data[head_start:end].strip(), None)
                pos = end + 6
                continue
            head = data[head_start:stream_at]
            start = stream_at + 6
            start += 2 if data[start : start + 2] == b"\r\n" else 1
            length = re.search(rb"/Length (\d+)(?! \d+ R)", head)
            stop = start + int(length.group(1)) if length else data.find(b"endstream", start)
            raw = data[start:stop]
            if b"/FlateDecode" in head:
                raw = zlib.decompress(raw)
            self.objects[int(m.group(1))] = (head.strip(), raw)
            pos = data.find(b"endobj", stop) + 6
        self.pages = [n for n, (head, _) in self.objects.items() if _is_page(head)]
        self._cmaps: dict[int, dict[int, str]] = {}

    def page_count(self) -> int:
        """The number of /Type /Page objects (checked against the page tree's /Count)."""
        counts = [
            int(m.group(1))
            for head, _ in self.objects.values()
            if re.search(rb"/Type /Pages\b", head) and not re.search(rb"/Parent \d+", head)
            for m in [re.search(rb"/Count (\d+)", head)]
            if m
        ]
        if counts and counts[0] != len(self.pages):
            raise ValueError(f"/Count {counts[0]} but {len(self.pages)} /Type /Page objects")
        return len(self.pages)

    def text(self) -> list[str]:
        """The text of each page, in page order (the order of the objects, which is Skia's)."""
        return [self._content_text(self.objects[n][0], 0) for n in self.pages]

    def _content_text(self, page: bytes, depth: int) -> str:
        """The text a page's content streams show, forms they draw (``Do``) included."""
        contents = page.split(b"/Contents", 1)[1] if b"/Contents" in page else b""
        contents = contents.split(b"]", 1)[0] if contents.lstrip()[:1] == b"[" else contents[:40]
        fonts, forms = _named_refs(page, b"/Font"), _named_refs(page, b"/XObject")
        streams = [self.objects[int(r)][1] or b"" for r in _REF.findall(contents)]
        return "".join(self._show(s, fonts, forms, depth) for s in streams)

    def _show(
        self, content: bytes, fonts: dict[bytes, int], forms: dict[bytes, int], depth: int
    ) -> str:
        out: list[str] = []
        cmap: dict[int, str] = {}
        for m in _TEXT_OPS.finditer(content):
            font, hex_run, array, op, form = m.groups()
            if font is not None:
                cmap = self._cmap(fonts.get(font))
            elif hex_run is not None:
                out.append(_decode(hex_run, cmap) + " ")
            elif array is not None:
                out.append(
                    "".join(_decode(h, cmap) for h in re.findall(rb"<([0-9A-Fa-f\s]*)>", array))
                )
                out.append(" ")
            elif op is not None:
                out.append("\n" if op == b"ET" else " ")
            elif form is not None and depth < 4 and form in forms:
                head, stream = self.objects.get(forms[form], (b"", None))
                if stream is not None and b"/Form" in head:
                    out.append(
                        self._show(
                            stream,
                            _named_refs(head, b"/Font"),
                            _named_refs(head, b"/XObject"),
                            depth + 1,
                        )
                    )
        return "".join(out)

    def _cmap(self, font: int | None) -> dict[int, str]:
        if font is None:
            return {}
        if font not in self._cmaps:
            head = self.objects.get(font, (b"", None))[0]
            ref = re.search(rb"/ToUnicode (\d+) \d+ R", head)
            stream = self.objects.get(int(ref.group(1)), (b"", None))[1] if ref else None
            self._cmaps[font] = _parse_cmap(stream or b"")
        return self._cmaps[font]


def squeeze(text: str) -> str:
    """``text`` without whitespace and ligatures (NFKC: the PDF's "ﬁ" is "fi"): how PDF text
    and expected text are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _is_page(head: bytes) -> bool:
    return re.search(rb"/Type\s*/Page(?![s\w])", head) is not None


def _named_refs(head: bytes, key: bytes) -> dict[bytes, int]:
    """``/Name N 0 R`` pairs of the dictionary under ``key`` (inline, as Skia writes it)."""
    at = head.find(key + b" <<")
    if at < 0:
        return {}
    body = head[at + len(key) + 3 : head.find(b">>", at)]
    return {k: int(v) for k, v in re.findall(rb"/([^\s/]+)\s+(\d+) \d+ R", body)}


def _parse_cmap(cmap: bytes) -> dict[int, str]:
    """Glyph id to text from a ToUnicode CMap's ``bfchar`` and ``bfrange`` sections."""
    out: dict[int, str] = {}

    def text(hex_units: bytes) -> str:
        return bytes.fromhex(hex_units.decode()).decode("utf-16-be", "replace")

    for section in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", section):
            out[int(src, 16)] = text(dst)
    for section in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])", section
        ):
            lo_i, hi_i = int(lo, 16), int(hi, 16)
            if dst.startswith(b"["):
                for i, d in enumerate(re.findall(rb"<([0-9A-Fa-f]+)>", dst)):
                    out[lo_i + i] = text(d)
            else:
                first = int(dst[1:-1], 16)
                for i in range(hi_i - lo_i + 1):
                    out[lo_i + i] = chr(first + i)
    return out


def _decode(hex_run: bytes, cmap: dict[int, str]) -> str:
    """A hex string of 2-byte glyph ids (Identity-H) as text; unmapped glyphs become U+FFFD."""
    digits = re.sub(rb"\s", b"", hex_run).decode()
    return "".join(cmap.get(int(digits[i : i + 4], 16), "\ufffd") for i in range(0, len(digits), 4))
