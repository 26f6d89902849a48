"""How text and queries are split for the Chinese full-text index. Pure: imports nothing from Django.

The index answers one question exactly: which documents contain a query term as a substring, after both are
*normalised* (each character NFKC-folded and lowercased on its own, so full-width ``ＡＢＣ１２３`` is ``abc123``
and the mapping is compositional: whatever ``LIKE '%q%'`` finds case-insensitively, this finds too).

A text is cut into *runs* of word characters (letters of any script, digits); everything else separates runs.
Each run becomes a token stream, in order::

    ⟨x  xy yz …  z⟩         (⟨ and ⟩ are the private-use MARK character)

overlapping character bigrams framed by two boundary tokens. Bigrams make every 2-character Chinese word
findable (the ``trigram`` tokenizer and ``pg_trgm`` cannot); the boundary tokens stop a phrase from running
across punctuation, spaces or from one message into the next, and they let a one-character query be answered
as the prefix query ``x*`` (every occurrence of ``x`` begins a bigram or an end token).

Runs of ASCII letters and digits (order numbers, phone numbers, English words) also get a second stream of
*trigram* tokens ``W abc``, ``W bcd`` … closed by ``W⟩`` (W is a second private-use character). A pure ASCII
query of 3 or more characters is then a phrase of trigrams: exact, and selective where its bigrams are not
(there are only 100 digit bigrams; a phone number's trigrams are each in a few per cent of cases).

A case's document ends with *visibility* tokens (``V t<team id>``, ``V d<department id>``) so that a count
restricted to what a user may see is answered inside the index.

A query term is planned into clauses (a phrase of tokens, optionally a prefix) whose AND finds every document
that contains the term. When the plan is *exact* the index result is the answer; otherwise (punctuation or
symbols inside a term, a term with no letter or digit) the candidates are verified against the normalised
texts (:func:`matches`).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MARK = "\ue000"  # run boundary: ⟨x … z⟩
TRI = "\ue001"  # first character of an ASCII trigram token
VIS = "\ue002"  # first character of a visibility token (a case's team, an involved department)

_RUN = re.compile(r"[^\W_]+")  # maximal runs of str.isalnum() characters
_ASCII = re.compile(r"[a-z0-9]{3,}")  # maximal ASCII alphanumeric runs long enough for trigrams
_ASCII_ONLY = re.compile(r"[a-z0-9]+")
_TERM = re.compile(r'"([^"]*)"|“([^”]*)”|(\S+)')


class _Fold(dict):
    """Per-character NFKC + lowercase, computed once per character and kept (used by ``str.translate``)."""

    def __missing__(self, code: int) -> str:
        folded = unicodedata.normalize("NFKC", chr(code)).lower()
        self[code] = folded
        return folded


_FOLD = _Fold()


def normalize(text: str) -> str:
    """The form both texts and queries are matched in. Character by character, so that
    ``normalize(a + b) == normalize(a) + normalize(b)``: a substring stays a substring."""
    if text.isascii():
        return text.lower()
    return text.translate(_FOLD)


def contains(text: str, term: str) -> bool:
    """The reference answer: does ``text`` contain the (already normalised) ``term``?"""
    return term in normalize(text)


def _bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def stream_tokens(norm: str) -> list[str]:
    """The framed bigram stream of a normalised text (see the module docstring)."""
    out: list[str] = []
    append, extend = out.append, out.extend
    for match in _RUN.finditer(norm):
        run = match.group()
        append(MARK + run[0])
        if len(run) > 1:
            extend([run[i:i + 2] for i in range(len(run) - 1)])
        append(run[-1] + MARK)
    return out


def trigram_tokens(norm: str) -> list[str]:
    """``TRI + s[i:i+3]`` for every ASCII alphanumeric run ``s`` of 3 or more characters, each run closed by
    ``TRI + MARK`` so that no trigram phrase runs from one ASCII run into the next."""
    out: list[str] = []
    for match in _ASCII.finditer(norm):
        s = match.group()
        out.extend([TRI + s[i:i + 3] for i in range(len(s) - 2)])
        out.append(TRI + MARK)
    return out


def text_tokens(text: str) -> list[str]:
    """The tokens of one text: its framed bigram stream, then its trigram stream."""
    norm = normalize(text)
    return stream_tokens(norm) + trigram_tokens(norm)


def document_tokens(texts: Iterable[str]) -> list[str]:
    """All tokens of a document made of several texts (a case: its subject and every message), text after
    text. Boundary tokens frame every run, so no phrase crosses from one text into the next."""
    out: list[str] = []
    for text in texts:
        if text:
            out.extend(text_tokens(text))
    return out


def document_string(texts: Iterable[str]) -> str:
    """The tokens joined by spaces: what the SQLite FTS5 table (``ascii`` tokenizer) indexes."""
    return " ".join(document_tokens(texts))


def visibility_tokens(team_id: int | None, department_ids: Iterable[int] = ()) -> list[str]:
    """Who may see a case, as tokens at the end of its document: its team and every involved department.
    They let a restricted count be answered inside the index; results are still read through the
    permission helper."""
    out = [f"{VIS}t{team_id}"] if team_id is not None else []
    out.extend(f"{VIS}d{d}" for d in sorted(set(department_ids)))
    return out


def team_token(team_id: int) -> str:
    return f"{VIS}t{team_id}"


def department_token(department_id: int) -> str:
    return f"{VIS}d{department_id}"


# PostgreSQL keeps at most 256 positions per lexeme and no position above 16383 in a tsvector; a document
# beyond either limit still finds every candidate, but its phrase matches are verified.
PG_MAX_POSITION = 16383
PG_MAX_POSITIONS_PER_LEXEME = 256


def tsvector_literal(tokens: Sequence[str]) -> tuple[str, bool]:
    """A PostgreSQL tsvector literal with positions (1-based) and whether it is *lossless* (phrase matches
    are then exact). Tokens hold only word characters and the two private-use marks: nothing to escape."""
    lossless = len(tokens) <= PG_MAX_POSITION
    if lossless and tokens:
        lossless = Counter(tokens).most_common(1)[0][1] <= PG_MAX_POSITIONS_PER_LEXEME
    literal = " ".join(f"'{tok}':{min(i, PG_MAX_POSITION)}" for i, tok in enumerate(tokens, 1))
    return literal, lossless


# --- queries ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clause:
    """A phrase of tokens at consecutive positions; with ``prefix`` the last token is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Term:
    """One query term: its normalised text, the index clauses that every match satisfies (AND), and whether
    satisfying them is also sufficient (``exact``). A term without clauses can only be found by a scan."""

    text: str
    clauses: tuple[Clause, ...]
    exact: bool


def split_query(query: str) -> list[str]:
    """Space-separated terms (ideographic spaces too); "quoted text" (or “quoted”) is one term with its
    spaces. Normalised, de-duplicated, in order."""
    out: list[str] = []
    for match in _TERM.finditer(normalize(query or "")):
        term = next(g for g in match.groups() if g is not None)
        term = term.strip()
        if term and term not in out:
            out.append(term)
    return out


def _trigram_clauses(term: str) -> tuple[Clause, ...]:
    return tuple(
        Clause(tuple(TRI + m.group()[i:i + 3] for i in range(len(m.group()) - 2)))
        for m in _ASCII.finditer(term)
    )


def plan_term(term: str) -> Term:
    """The clauses for one normalised term (see the module docstring for why each is sound)."""
    runs = list(_RUN.finditer(term))
    if not runs:
        return Term(term, (), exact=False)
    trigrams = _trigram_clauses(term)
    if len(runs) == 1 and runs[0].group() == term:
        if len(term) == 1:
            return Term(term, (Clause((term,), prefix=True),), exact=True)
        if len(term) == 2:
            return Term(term, (Clause((term,)),), exact=True)
        if _ASCII_ONLY.fullmatch(term):
            return Term(term, trigrams, exact=True)
        # A mixed or Chinese run: the bigram phrase is exact; the trigram phrases of ASCII parts are selective.
        return Term(term, (Clause(tuple(_bigrams(term))), *trigrams), exact=True)
    # Punctuation inside the term: the runs must follow each other (inner runs whole, the first ending and
    # the last starting at a boundary), but the index does not see the separators: verify.
    tokens: list[str] = []
    for m in runs:
        run = m.group()
        if m.start() > 0:
            tokens.append(MARK + run[0])
        tokens.extend(_bigrams(run))
        if m.end() < len(term):
            tokens.append(run[-1] + MARK)
    return Term(term, (Clause(tuple(tokens)), *trigrams), exact=False)


def plan_query(query: str) -> list[Term]:
    return [plan_term(t) for t in split_query(query)]


def fts5_expression(terms: Sequence[Term], any_of: Sequence[str] = ()) -> str:
    """An FTS5 MATCH expression: the AND of every clause of every term (terms without clauses add none),
    and, if given, of one of the ``any_of`` tokens. Tokens never contain a double quote, so quoting each
    phrase is safe."""
    parts = []
    for term in terms:
        for clause in term.clauses:
            phrase = '"' + " ".join(clause.tokens) + '"'
            parts.append(phrase + " *" if clause.prefix else phrase)
    if any_of:
        parts.append("(" + " OR ".join(f'"{tok}"' for tok in any_of) + ")")
    return " AND ".join(parts)


def tsquery_expression(terms: Sequence[Term], any_of: Sequence[str] = ()) -> str:
    """The same as a PostgreSQL tsquery literal (``<->`` for adjacency, ``:*`` for prefix, ``|`` for or)."""
    parts = []
    for term in terms:
        for clause in term.clauses:
            lexemes = [f"'{tok}'" for tok in clause.tokens]
            if clause.prefix:
                lexemes[-1] += ":*"
            parts.append("(" + " <-> ".join(lexemes) + ")" if len(lexemes) > 1 else lexemes[0])
    if any_of:
        parts.append("(" + " | ".join(f"'{tok}'" for tok in any_of) + ")")
    return " & ".join(parts)


def all_exact(terms: Sequence[Term]) -> bool:
    return all(t.exact for t in terms)


def has_clauses(terms: Sequence[Term]) -> bool:
    return any(t.clauses for t in terms)


def matches(texts: Iterable[str], terms: Sequence[Term]) -> bool:
    """The reference semantics: every term occurs in at least one of the texts."""
    norms = [normalize(t) for t in texts if t]
    return all(any(term.text in norm for norm in norms) for term in terms)


# --- highlighting -----------------------------------------------------------------------------------------

def _folded_map(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the original character."""
    pieces: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = normalize(ch)
        pieces.append(folded)
        origin.extend([i] * len(folded))
    return "".join(pieces), origin


def match_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Where the (normalised) terms occur in ``text``, as merged ``(start, end)`` spans of the original."""
    norm, origin = _folded_map(text)
    spans = []
    for term in terms:
        if not term:
            continue
        start = norm.find(term)
        while start >= 0:
            end = start + len(term)
            spans.append((origin[start], origin[end - 1] + 1))
            start = norm.find(term, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight(text: str, query: str, *, width: int = 80, before: str = "<mark>", after: str = "</mark>",
              ellipsis: str = "…") -> str:
    """An HTML-escaped snippet of ``text`` of about ``width`` characters around the first match of the query,
    with every match of every term wrapped in ``before``/``after``. Without a match: the start of the text."""
    text = text or ""
    spans = match_spans(text, split_query(query))
    if spans:
        first = spans[0][0]
        start = max(0, min(first - width // 4, len(text) - width))
    else:
        start = 0
    end = min(len(text), start + width)
    out = [ellipsis if start > 0 else ""]
    pos = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(text[pos:s]))
        out.append(before + html.escape(text[s:e]) + after)
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append(ellipsis)
    return "".join(out)


def best_snippet(texts: Sequence[str], query: str, *, width: int = 80, **marks: str) -> str:
    """:func:`highlight` applied to the text that contains the most terms of the query (the first of them)."""
    terms = split_query(query)
    best, best_hits = "", -1
    for text in texts:
        norm = normalize(text or "")
        hits = sum(1 for term in terms if term in norm)
        if hits > best_hits:
            best, best_hits = text or "", hits
    return highlight(best, query, width=width, **marks)
