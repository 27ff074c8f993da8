"""The official 345 Quick, Draw! categories, named sets from the studies, and name checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from qdcore.errors import DataError, suggest
from qdcore.fmt import literal, text_path


@dataclass(frozen=True)
class OfficialFile:
    """One of Google's files for one category: size, drawing count (numpy bitmaps only, else 0), md5."""

    category: str
    bytes: int
    n_drawings: int
    md5: str


@cache
def official_files(folder: str = "numpy_bitmap") -> dict[str, OfficialFile]:
    """Google's 345 files of one format folder (numpy_bitmap, simplified, binary, raw), by category."""
    text = resources.files("qdcore.assets").joinpath("google_files.tsv").read_text("utf-8")
    out = {}
    for line in text.splitlines()[1:]:
        name, fmt, size, n, md5 = line.split("\t")
        if fmt == folder:
            out[name] = OfficialFile(name, int(size), int(n), md5)
    if not out:
        raise ValueError(f"no Google files in the format folder {folder!r}")
    return out


def official_categories() -> list[str]:
    """The 345 official category names, sorted."""
    return sorted(official_files())


# Study 000's ten, study 001's eleven mammals, study 003's double-descent ten.
NAMED_SETS: dict[str, list[str]] = {
    "study000": ["fish", "fork", "hot dog", "flamingo", "airplane", "alarm clock",
                 "baseball bat", "bicycle", "dolphin", "elephant"],
    "mammals": ["camel", "cow", "elephant", "giraffe", "horse", "kangaroo", "lion",
                "panda", "rhinoceros", "tiger", "zebra"],
    "dd10": ["rainbow", "lighthouse", "giraffe", "eyeglasses", "tooth", "teapot", "sock",
             "camouflage", "cow", "couch"],
    # The categories of ../shared/quickdraw/numpy_bitmap with at least 1,000 drawings.
    "shared24": ["angel", "apple", "bear", "bicycle", "bird", "cat", "cloud", "diamond",
                 "dog", "duck", "eye", "fish", "flower", "frog", "lion", "monkey", "moon",
                 "owl", "rabbit", "rainbow", "sea turtle", "sheep", "smiley face", "train"],
}
NAMED_SETS["study001"] = NAMED_SETS["mammals"]
NAMED_SETS["study003"] = NAMED_SETS["dd10"]


def check_category(name: str, allowed: list[str] | None = None) -> str:
    """Return the canonical category name or raise DataError with suggestions."""
    allowed = allowed if allowed is not None else official_categories()

    lookup = {c.lower(): c for c in allowed}
    key = name.strip().lower().replace("_", " ")
    if key in lookup:
        return lookup[key]
    # A name as it is listed (control characters and non-UTF-8 bytes spelled out: 'two\nlines', '\xffbad'),
    # or typed with those raw bytes: the same category.
    as_listed = {literal(c).lower(): c for c in allowed}
    for typed in (name.strip(), text_path(name.strip())):
        if literal(typed).lower() in as_listed:
            return as_listed[literal(typed).lower()]
    official = {c.lower(): c for c in official_categories()}
    if allowed is not None and key in official:
        shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
        raise DataError(f"{official[key]!r} is a Quick, Draw! category but not in this data ({shown}); "
                        "download it with 'qd data download' and use --data cache, or pick from these")
    raise DataError(f"unknown category {name!r}{suggest(key, allowed)}; "
                    "see 'qd data list' for the names")


def parse_categories(spec: str | list[str] | None, allowed: list[str] | None = None) -> list[str] | None:
    """Turn 'a,b,c', a named set, or a list into checked names (None = all)."""
    if spec is None or spec == "" or spec == []:
        return None
    items = spec if isinstance(spec, list) else [s for s in spec.split(",")]
    out: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item.lower() in NAMED_SETS:
            out.extend(NAMED_SETS[item.lower()])
        else:
            out.append(check_category(item, allowed))
    return list(dict.fromkeys(out))  # without repeats, in order


def chosen_categories(spec: str | list[str] | None, available: list[str]) -> list[str]:
    """The checked categories `spec` names among `available`; all of them when it names none."""
    return parse_categories(spec, allowed=available) or list(available)


GOOGLE_PREFIX = "full_numpy_bitmap_"


@lru_cache(maxsize=1)
def _official_lookup() -> dict[str, str]:
    return {c.lower(): c for c in official_categories()}


def category_from_stem(stem: str) -> str:
    """`full_numpy_bitmap_sea turtle` -> 'sea turtle'; official names matched case-insensitively, else the stem."""
    # A non-UTF-8 file name arrives with surrogates that nothing downstream can encode: spell its bytes out.
    stem = text_path(stem)
    name = stem[len(GOOGLE_PREFIX):] if stem.lower().startswith(GOOGLE_PREFIX) else stem
    lookup = _official_lookup()
    key = name.strip().lower()
    return lookup.get(key) or lookup.get(key.replace("_", " ")) or name
