"""The tokenizer and query planner, without a database.

The central property: simulate the index over the token stream (a phrase = the tokens at consecutive
positions, the last one a prefix when the clause says so) and check, for generated Chinese, English and mixed
texts and queries, that every document containing a term satisfies all its clauses (no misses), and that for
an *exact* plan satisfying the clauses means containing the term (no false hits).
"""

from __future__ import annotations

import html

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kefu.search import tokens as tk

# Characters that matter: common Chinese, a few rarer ones, ASCII letters either case, digits, full-width
# forms, punctuation (ASCII and Chinese), spaces, the private-use marks the index itself uses.
ALPHABET = list("退款发票申请药品订单号码王医生协和") + list("aAbBcCxyz") + list("0123456") + list("ＡＢ１２") + list(
    " .-@,，。！、") + [tk.MARK, tk.TRI, "\u3000"]
texts = st.text(alphabet=st.sampled_from(ALPHABET), max_size=40)


def clause_hits(tokens: list[str], clause: tk.Clause) -> bool:
    n = len(clause.tokens)
    for p in range(len(tokens) - n + 1):
        ok = all(tokens[p + i] == clause.tokens[i] for i in range(n - 1))
        last = tokens[p + n - 1]
        if ok and (last.startswith(clause.tokens[-1]) if clause.prefix else last == clause.tokens[-1]):
            return True
    return False


def index_says(doc: list[str], term: tk.Term) -> bool:
    tokens = tk.document_tokens(doc)
    return all(clause_hits(tokens, c) for c in term.clauses)


@st.composite
def doc_and_term(draw):
    doc = draw(st.lists(texts, min_size=1, max_size=3))
    source = draw(st.sampled_from(doc))
    if source and draw(st.booleans()):
        i = draw(st.integers(0, len(source) - 1))
        j = draw(st.integers(i + 1, min(len(source), i + 12)))
        term = source[i:j]
    else:
        term = draw(texts)
    return doc, term


@settings(max_examples=600, deadline=None)
@given(doc_and_term())
@example((["申请退款"], "退款"))
@example((["退款,款申请"], "退款申请"))  # runs must not be glued across punctuation
@example((["abc bcd"], "abcd"))  # nor ASCII trigram runs
@example((["订单DD20240523"], "dd2024"))
@example((["VITAMIN C"], "min c"))
@example((["ＡＢＣ１２３"], "abc"))
def test_index_finds_every_match_and_exact_plans_nothing_else(case):
    doc, raw = case
    for text in tk.split_query(raw):
        term = tk.plan_term(text)
        contained = tk.matches(doc, [term])
        if contained:
            assert index_says(doc, term), (doc, term)
        if term.exact and term.clauses and index_says(doc, term):
            assert contained, (doc, term)


def test_bigram_stream_is_framed_per_run():
    m = tk.MARK
    assert tk.stream_tokens("申请退款") == [m + "申", "申请", "请退", "退款", "款" + m]
    assert tk.stream_tokens("退款,发票") == [m + "退", "退款", "款" + m, m + "发", "发票", "票" + m]
    assert tk.stream_tokens("药") == [m + "药", "药" + m]
    assert tk.stream_tokens("...") == []


def test_ascii_runs_get_trigrams_closed_per_run():
    t = tk.TRI
    assert tk.trigram_tokens("订单dd2024号") == [t + "dd2", t + "d20", t + "202", t + "024", t + tk.MARK]
    assert tk.trigram_tokens("ab 12") == []


def test_normalize_folds_width_and_case_character_by_character():
    assert tk.normalize("ＡＢＣ１２３ Vitamin") == "abc123 vitamin"
    assert tk.normalize("退款") == "退款"
    assert tk.normalize("\u3000") == " "


@given(texts, texts)
def test_normalize_is_compositional(a, b):
    assert tk.normalize(a + b) == tk.normalize(a) + tk.normalize(b)


def test_plans():
    one = tk.plan_term("药")
    assert one.exact and one.clauses == (tk.Clause(("药",), prefix=True),)
    two = tk.plan_term("退款")
    assert two.exact and two.clauses == (tk.Clause(("退款",)),)
    four = tk.plan_term("申请退款")
    assert four.exact and four.clauses == (tk.Clause(("申请", "请退", "退款")),)
    phone = tk.plan_term("13800138000")
    assert phone.exact and len(phone.clauses) == 1 and len(phone.clauses[0].tokens) == 9
    mixed = tk.plan_term("订单dd2024")
    assert mixed.exact and len(mixed.clauses) == 2
    email = tk.plan_term("zhang@example.com")
    assert not email.exact and email.clauses
    assert tk.plan_term("@@").clauses == ()


def test_split_query():
    assert tk.split_query("  退款  发票\u3000退款 ") == ["退款", "发票"]
    assert tk.split_query('"vitamin c" 退款') == ["vitamin c", "退款"]
    assert tk.split_query("“维生素 C” ＶＩＰ") == ["维生素 c", "vip"]
    assert tk.split_query("") == []


def test_expressions_quote_every_phrase():
    terms = tk.plan_query("申请退款 药")
    assert tk.fts5_expression(terms) == '"申请 请退 退款" AND "药" *'
    assert tk.tsquery_expression(terms) == "('申请' <-> '请退' <-> '退款') & '药':*"


def test_tsvector_literal_and_its_limits():
    literal, exact = tk.tsvector_literal(["退款", "款申"])
    assert literal == "'退款':1 '款申':2" and exact
    assert not tk.tsvector_literal(["ab"] * 300)[1]  # more than 256 positions of one lexeme
    assert not tk.tsvector_literal([f"t{i}" for i in range(tk.PG_MAX_POSITION + 1)])[1]


def test_highlight_marks_every_match_and_escapes():
    out = tk.highlight("<b>客户</b>说退款还没到账，请尽快退款", "退款")
    assert out.count("<mark>退款</mark>") == 2
    assert "&lt;b&gt;" in out and "<b>" not in out
    assert tk.highlight("ＡＢＣ订单", "abc") == "<mark>ＡＢＣ</mark>订单"


def test_highlight_snippet_centres_on_the_first_match():
    text = "前面的话" * 40 + "发票抬头开错了" + "后面的话" * 40
    out = tk.highlight(text, "发票", width=30)
    assert out.startswith("…") and out.endswith("…") and "<mark>发票</mark>" in out
    assert len(html.unescape(out.replace("<mark>", "").replace("</mark>", ""))) <= 32


def test_best_snippet_prefers_the_text_with_most_terms():
    texts = ["只提到退款", "退款和发票都在这里", "都没有"]
    assert "<mark>发票</mark>" in tk.best_snippet(texts, "退款 发票")
    assert tk.best_snippet([], "退款") == ""
