"""Translations: Chinese is complete, the committed .mo files are compiled from the .po files as they are now,
and every string in the source is in the catalog (when GNU gettext is installed to extract them)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

import kefu

from . import po

LOCALE = Path(kefu.__file__).resolve().parent / "locale"
LANGUAGES = ["zh_Hans", "en"]
FIX = "run scripts/i18n.sh, translate the new entries in src/kefu/locale/zh_Hans/LC_MESSAGES/django.po, " \
      "and run scripts/i18n.sh again"


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def entries(language: str) -> list[po.Entry]:
    return po.read(po_path(language))


def test_every_chinese_entry_is_translated_and_none_is_fuzzy():
    found = entries("zh_Hans")
    assert len(found) > 100
    untranslated = [str(e) for e in found[1:] if not e.translated]
    fuzzy = [str(e) for e in found[1:] if e.fuzzy]
    assert not untranslated, f"untranslated: {untranslated}; {FIX}"
    assert not fuzzy, f"fuzzy (check the translation, then remove the fuzzy flag): {fuzzy}"
    header = found[0]
    assert header.msgid == "" and not header.fuzzy
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr


PYTHON_FORMAT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc%]")
BRACE_FORMAT = re.compile(r"\{[^{}]*\}")


def placeholders(text: str, flags: set[str]) -> list[str]:
    found = []
    if "python-format" in flags:
        found += sorted(m.group(0) for m in PYTHON_FORMAT.finditer(text) if m.group(0) != "%%")
    if "python-brace-format" in flags:
        found += sorted(BRACE_FORMAT.findall(text))
    return found


@pytest.mark.parametrize("language", ["zh_Hans"])
def test_translations_keep_every_placeholder(language):
    """A translation that drops or renames a %(name)s would fail at run time, in front of a user."""
    wrong = []
    for entry in entries(language)[1:]:
        texts = [entry.msgstr] if entry.msgid_plural is None else list(entry.msgstr_plural.values())
        for text in texts:
            if text and placeholders(text, entry.flags) != placeholders(entry.msgid, entry.flags):
                wrong.append(f"{entry}: {text!r}")
    assert not wrong, wrong


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_compiled_from_the_po_as_it_is(language):
    mo = po_path(language).with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing; {FIX}"
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)._catalog
    expected = po.catalog(entries(language))
    if compiled != expected:
        stale = sorted(repr(k) for k in set(expected) ^ set(compiled))[:10]
        changed = sorted(repr(k) for k in set(expected) & set(compiled) if expected[k] != compiled[k])[:10]
        pytest.fail(f"{mo.name} ({language}) is older than or differs from its .po: entries only on one side "
                    f"{stale}, changed {changed}; run scripts/i18n.sh")


def test_chinese_is_the_default_and_english_works(settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    from kefu.cases.models import Case, Status

    with translation.override("zh-hans"):
        assert str(Case._meta.verbose_name) == "工单"
        assert str(Status.PENDING.label) == "待客户回复"
        assert str(Status.ON_HOLD.label).startswith("挂起")
        assert str(Case._meta.get_field("assignee").verbose_name) == "处理人"
    with translation.override("en"):
        assert str(Case._meta.verbose_name) == "case"
        assert str(Status.PENDING.label) == "Pending (waiting on customer)"


def test_every_string_in_the_source_is_in_the_catalog(tmp_path):
    """Extract the strings of src/kefu afresh (as scripts/i18n.sh does) and compare with the catalog."""
    if not all(shutil.which(tool) for tool in ("xgettext", "msgmerge", "msguniq", "msgattrib")):
        pytest.skip("GNU gettext is not installed (apt-get install gettext); the catalog cannot be re-extracted")
    source = LOCALE.parent
    copy = tmp_path / "kefu"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "static", "*.mo", "*.pyc"))
    from .procs import kefu_env

    proc = subprocess.run(
        [sys.executable, "-m", "kefu", "makemessages", "--locale", "zh_Hans", "--no-obsolete",
         "--add-location", "file", "--ignore", ".venv", "--ignore", "var"],
        cwd=copy, env=kefu_env(tmp_path / "data"), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    fresh = {e.key for e in po.read(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    committed = {e.key for e in entries("zh_Hans")}
    missing = sorted(fresh - committed)
    gone = sorted(committed - fresh)
    assert not missing, f"strings in the source but not in the catalog: {missing}; {FIX}"
    assert not gone, f"strings in the catalog that the source no longer has: {gone}; run scripts/i18n.sh"
