"""Regia's message catalogs: extract, update, compile and check the translations.

    python -m agency.i18n refresh    # extract messages.pot and update every .po from it
    python -m agency.i18n compile    # .po -> .mo (the app reads only the .mo)
    python -m agency.i18n check      # exit 1 if a catalog is stale, untranslated or uncompiled
    python -m agency.i18n init de    # start a catalog for a new language

After ``refresh``, translate the empty (``msgstr ""``) entries of each
``agency/translations/<lang>/LC_MESSAGES/messages.po``, then ``compile``.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
MAPPING = PACKAGE_DIR / "babel.cfg"
TRANSLATIONS = PACKAGE_DIR / "translations"
POT = TRANSLATIONS / "messages.pot"
DOMAIN = "messages"

# Flask-Babel's lazy helpers on top of babel's defaults (_, gettext, ngettext, pgettext, ...).
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
# Directories never scanned: hidden ones (.venv, .git), tests, schema migrations, build output.
IGNORED_DIRS = (".*", "_*", "tests", "migrations", "instance", "node_modules", "build", "dist")

REFRESH_COMMAND = "python -m agency.i18n refresh"
COMPILE_COMMAND = "python -m agency.i18n compile"

MessageKey = tuple[str | tuple[str, ...], str | None]
_HEADER = {
    "project": "Regia",
    "domain": DOMAIN,
    "charset": "utf-8",
    "copyright_holder": "Regia contributors",
    "header_comment": "# Regia's user interface messages.\n"
    "# This file is distributed under the same license as Regia (AGPL-3.0-or-later).\n#",
    "fuzzy": False,
}


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _keep_directory(path: str) -> bool:
    name = Path(path).name
    return not any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_DIRS)


def extract(root: Path = ROOT) -> Catalog:
    """Every translatable message of the Python sources and templates under ``root``."""
    with MAPPING.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj)
    catalog = Catalog(**_HEADER)
    found = extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
        directory_filter=_keep_directory,
    )
    for filename, lineno, message, comments, context in found:
        path = Path(filename).as_posix()
        catalog.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return catalog


def catalog_locales() -> list[str]:
    """The languages that have a catalog, e.g. ``["it"]`` (English is the source language)."""
    return sorted(p.parent.parent.name for p in TRANSLATIONS.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(locale: str) -> Path:
    return po_path(locale).with_suffix(".mo")


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain=DOMAIN)


def _write_po(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, ignore_obsolete=True, include_previous=False)
    path.write_bytes(buffer.getvalue())


def write_template(catalog: Catalog, path: Path = POT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100)
    path.write_bytes(buffer.getvalue())


def init(locale: str, template: Catalog | None = None) -> Path:
    """Start the catalog of a new language from the sources (all entries untranslated)."""
    template = template or extract()
    catalog = Catalog(locale=locale, language_team=locale, **_HEADER)
    catalog.update(template, no_fuzzy_matching=True)
    _write_po(po_path(locale), catalog)
    return po_path(locale)


def refresh() -> Catalog:
    """Re-extract ``messages.pot`` and merge it into every language: new strings arrive empty."""
    template = extract()
    write_template(template)
    for locale in catalog_locales():
        catalog = read_catalog(locale)
        # No fuzzy guesses: a new string must be translated by a person, not matched by similarity.
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        catalog.revision_date = datetime.now(UTC)
        _write_po(po_path(locale), catalog)
    return template


def compiled_messages(catalog: Catalog) -> dict[MessageKey, str | tuple[str, ...]]:
    """What a .mo built from ``catalog`` would hold (translated, non-fuzzy messages)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return mo_messages(read_mo(buffer))


def mo_messages(catalog: Catalog) -> dict[MessageKey, str | tuple[str, ...]]:
    return {(_frozen(m.id), m.context): _frozen(m.string) for m in catalog if m.id}


def _frozen(value: object) -> object:
    """A plural message's ids and strings come back from a .mo as lists: tuples to hash them."""
    return tuple(value) if isinstance(value, list) else value


def compile_all() -> list[Path]:
    written = []
    for locale in catalog_locales():
        with mo_path(locale).open("wb") as fileobj:
            write_mo(fileobj, read_catalog(locale), use_fuzzy=False)
        written.append(mo_path(locale))
    return written


def _is_translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(strings)


def untranslated(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id and (m.fuzzy or not _is_translated(m))]


def _keys(messages: Iterable[Message]) -> set[MessageKey]:
    return {(_frozen(m.id), m.context) for m in messages if m.id}


def missing_from(catalog: Catalog, template: Catalog) -> list[MessageKey]:
    """Messages the sources use that ``catalog`` lacks."""
    return sorted(_keys(template) - _keys(catalog), key=str)


def problems(template: Catalog | None = None) -> list[str]:
    """Everything that would leave a user with an English string in a translated page."""
    template = template or extract()
    found: list[str] = []
    for locale in catalog_locales():
        catalog = read_catalog(locale)
        name = _shown(po_path(locale))
        missing = missing_from(catalog, template)
        if missing:
            listed = "; ".join(repr(key[0]) for key in missing[:10])
            found.append(
                f"{name}: {len(missing)} message(s) used in the code are not in the catalog "
                f"({listed}). Run `{REFRESH_COMMAND}`, translate them, then `{COMPILE_COMMAND}`."
            )
        todo = untranslated(catalog)
        if todo:
            listed = "; ".join(repr(m.id) for m in todo[:10])
            found.append(
                f"{name}: {len(todo)} untranslated or fuzzy message(s) ({listed}). "
                f"Translate them (and drop the `#, fuzzy` flag), then `{COMPILE_COMMAND}`."
            )
        for message, errors in catalog.check():
            found.append(f"{name}: {message.id!r}: {'; '.join(str(e) for e in errors)}")
        mo = mo_path(locale)
        if not mo.exists():
            found.append(f"{_shown(mo)} is missing. Run `{COMPILE_COMMAND}`.")
        else:
            with mo.open("rb") as fileobj:
                if mo_messages(read_mo(fileobj)) != compiled_messages(catalog):
                    found.append(f"{_shown(mo)} is older than its .po. Run `{COMPILE_COMMAND}`.")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agency.i18n", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write agency/translations/messages.pot from the sources")
    sub.add_parser("refresh", help="extract, then merge new messages into every .po")
    sub.add_parser("compile", help="compile every .po into its .mo")
    sub.add_parser("check", help="fail if any catalog is stale, incomplete or uncompiled")
    init_parser = sub.add_parser("init", help="start the catalog of a new language")
    init_parser.add_argument("locale")
    args = parser.parse_args(argv)

    if args.command == "extract":
        template = extract()
        write_template(template)
        print(f"{len(template)} messages -> {POT.relative_to(ROOT)}")
    elif args.command == "refresh":
        template = refresh()
        print(f"{len(template)} messages -> {POT.relative_to(ROOT)}")
        for locale in catalog_locales():
            todo = untranslated(read_catalog(locale))
            print(f"{po_path(locale).relative_to(ROOT)}: {len(todo)} to translate")
    elif args.command == "compile":
        for path in compile_all():
            print(f"compiled {path.relative_to(ROOT)}")
    elif args.command == "init":
        print(f"created {init(args.locale).relative_to(ROOT)}")
    else:
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        if found:
            return 1
        print(f"catalogs complete: {', '.join(catalog_locales()) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
