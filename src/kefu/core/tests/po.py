"""A small reader for gettext .po files (what the i18n test needs; no third-party package).

:func:`read` returns the entries; :func:`catalog` turns them into the mapping a compiled .mo holds, in the
form Python's ``gettext.GNUTranslations`` reads it (``msgctxt\\x04msgid`` keys for a context, ``(msgid, n)``
keys for plural forms; untranslated and fuzzy entries left out, as ``msgfmt`` leaves them out).
A .mo compiled from the .po holds exactly this mapping; one that is older, or built from other text, does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
ESCAPE_RE = re.compile(r"\\(.)")
KEYWORD_RE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def unquote(text: str) -> str:
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        raise ValueError(f"not a quoted .po string: {text!r}")
    return ESCAPE_RE.sub(lambda m: ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False
    line: int = 0

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def translated(self) -> bool:
        if self.msgid_plural is not None:
            return bool(self.msgstr_plural) and all(self.msgstr_plural.values())
        return bool(self.msgstr)

    @property
    def key(self) -> str:
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid

    def __str__(self) -> str:
        where = f" ({', '.join(self.references)})" if self.references else ""
        context = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"line {self.line}: {context}{self.msgid!r}{where}"


def read(path: Path | str) -> list[Entry]:
    return parse(Path(path).read_text(encoding="utf-8"), str(path))


def parse(text: str, name: str = "<po>") -> list[Entry]:
    path = name
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int | None] | None = None

    def finish():
        nonlocal entry, target
        if entry is not None and (entry.msgid or entry.msgstr or entry.msgctxt is not None or not entries):
            entries.append(entry)
        entry, target = None, None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            if entry is None:
                entry = Entry(line=number)
            entry.obsolete = True
            continue
        if line.startswith("#"):
            if entry is not None and target is not None and target[0] == "msgstr":
                finish()  # a comment after a msgstr starts the next entry
            if entry is None:
                entry = Entry(line=number)
            if line.startswith("#,"):
                entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            elif line.startswith("#:"):
                entry.references.extend(line[2:].split())
            continue
        if line.startswith('"'):
            if entry is None or target is None:
                raise ValueError(f"{path}:{number}: a string continues nothing")
            _append(entry, target, unquote(line))
            continue
        match = KEYWORD_RE.match(line)
        if not match:
            raise ValueError(f"{path}:{number}: cannot read {raw!r}")
        keyword, index, value = match.group(1), match.group(2), unquote(match.group(3))
        if keyword in ("msgctxt", "msgid") and entry is not None and target is not None \
                and target[0] in ("msgstr", "msgstr_plural"):
            finish()
        if entry is None:
            entry = Entry(line=number)
        if keyword.startswith("msgstr["):
            target = ("msgstr_plural", int(index))
            entry.msgstr_plural[int(index)] = ""
        else:
            target = (keyword, None)
            setattr(entry, keyword, "")
        _append(entry, target, value)
    finish()
    return [e for e in entries if not e.obsolete]


def _append(entry: Entry, target: tuple[str, int | None], text: str) -> None:
    name, index = target
    if name == "msgstr_plural":
        entry.msgstr_plural[index] += text
    else:
        setattr(entry, name, getattr(entry, name) + text)


def catalog(entries: list[Entry]) -> dict:
    """What ``msgfmt`` compiles from these entries, keyed as ``gettext.GNUTranslations._catalog``.

    Like GNU msgfmt: the header is kept (without its POT-Creation-Date line, which msgfmt drops so that
    builds are reproducible); untranslated and fuzzy entries are left out."""
    out: dict = {}
    for entry in entries:
        if entry.msgid == "" and entry.msgctxt is None:
            out[""] = "".join(line for line in entry.msgstr.splitlines(keepends=True)
                              if not line.startswith("POT-Creation-Date:"))
            continue
        if entry.fuzzy or not entry.translated:
            continue
        if entry.msgid_plural is not None:
            for index, text in sorted(entry.msgstr_plural.items()):
                out[(entry.key, index)] = text
        else:
            out[entry.key] = entry.msgstr
    return out
