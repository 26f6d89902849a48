#!/usr/bin/env bash
# Updates the translation catalogs from the source and compiles them.
#   bash scripts/i18n.sh
# 1. makemessages: every translatable string in src/kefu (Python and templates) into
#    src/kefu/locale/{zh_Hans,en}/LC_MESSAGES/django.po (new strings arrive untranslated; strings that are
#    gone are dropped);
# 2. translate the new entries in the zh_Hans catalog (msgstr "" and entries marked "fuzzy");
# 3. run this script again: compilemessages writes the .mo files, which are committed, so no gettext is
#    needed at install or run time. src/kefu/core/tests/test_i18n.py fails while an entry is untranslated
#    or fuzzy, or a .mo does not match its .po.
# Needs GNU gettext (Debian: apt-get install gettext).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${KEFU_PYTHON:-$PWD/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
for tool in xgettext msgmerge msgfmt; do
  command -v "$tool" >/dev/null || { echo "$tool not found: install GNU gettext (apt-get install gettext)" >&2; exit 1; }
done

export DJANGO_SETTINGS_MODULE=kefu.config.settings
export KEFU_DATA_DIR=${KEFU_DATA_DIR:-$(mktemp -d)}
export KEFU_SECRET_KEY=${KEFU_SECRET_KEY:-i18n-only-not-secret}

cd src/kefu
"$PYTHON" -m kefu makemessages --locale zh_Hans --locale en --no-obsolete --add-location file \
  --ignore .venv --ignore var --ignore 'static/*' --ignore '*/static/*'
"$PYTHON" -m kefu compilemessages --locale zh_Hans --locale en --ignore .venv --ignore var

untranslated=$(msgattrib --untranslated --no-obsolete locale/zh_Hans/LC_MESSAGES/django.po | grep -c '^msgid ' || true)
fuzzy=$(msgattrib --only-fuzzy --no-obsolete locale/zh_Hans/LC_MESSAGES/django.po | grep -c '^msgid ' || true)
# msgattrib prints the header entry too when there is anything to print.
[ "$untranslated" -gt 0 ] && untranslated=$((untranslated - 1))
[ "$fuzzy" -gt 0 ] && fuzzy=$((fuzzy - 1))
echo "zh_Hans: $untranslated untranslated, $fuzzy fuzzy entries"
