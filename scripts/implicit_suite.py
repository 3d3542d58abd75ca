"""Run implicit 0.7.3's own ALS tests against fastals, with only the model import swapped.

Usage::

    python scripts/implicit_suite.py                       # fetch (or reuse) the sdist, run all
    python scripts/implicit_suite.py -k factorize -x       # other arguments go to pytest
    python scripts/implicit_suite.py --sdist implicit-0.7.3.tar.gz --keep /tmp/implicit_tests

implicit's test files are not in this repository (licence/policy): this script takes them at
run time from implicit's published source distribution. It reads PyPI's simple index (PEP 503)
for ``implicit-0.7.3.tar.gz``, downloads it, checks its pinned sha256 and keeps it in
``$XDG_CACHE_HOME/fastals/`` (default ``~/.cache/fastals/``) so that reruns need no network;
``--sdist PATH`` uses a local copy instead (checked the same way).

Only ``tests/als_test.py`` and its helper ``tests/recommender_base_test.py`` are read from the
archive (nothing else is extracted). In ``als_test.py`` exactly one line changes,
``from implicit.als import AlternatingLeastSquares`` becomes
``from fastals import AlternatingLeastSquares``; every other use of ``implicit`` (``HAS_CUDA``,
``implicit.cpu.als.calculate_loss``, ``implicit.evaluation.precision_at_k``,
``implicit.utils.ParameterWarning``, ...) still comes from the installed implicit package.
pytest then runs on the two files in a subprocess of this interpreter.

Exit status: pytest's, or 77 (``EXIT_SDIST_UNAVAILABLE``) when the sdist can be neither read
from the cache nor downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

SDIST_NAME = "implicit-0.7.3.tar.gz"
SDIST_SHA256 = "9571a52d70b3667e99a6e6aae6681526dd3286c765cf0ea10e1073d068a98057"
INDEX_URL = "https://pypi.org/simple/implicit/"
MEMBERS = ("implicit-0.7.3/tests/als_test.py", "implicit-0.7.3/tests/recommender_base_test.py")
ALS_TEST = "als_test.py"
OLD_IMPORT = "from implicit.als import AlternatingLeastSquares"
NEW_IMPORT = "from fastals import AlternatingLeastSquares"
EXIT_SDIST_UNAVAILABLE = 77
TIMEOUT_S = 60


class SdistUnavailable(Exception):
    """The sdist is neither cached nor downloadable (no network, PyPI unreachable, ...)."""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def cache_dir() -> Path:
    """Where the downloaded sdist is kept: ``$XDG_CACHE_HOME/fastals`` or ``~/.cache/fastals``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastals"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist_url(index_url: str = INDEX_URL) -> str:
    """The download URL of ``SDIST_NAME`` as listed on the PEP 503 simple index."""
    with urllib.request.urlopen(index_url, timeout=TIMEOUT_S) as response:
        page = response.read().decode("utf-8", errors="replace")
    parser = _Links()
    parser.feed(page)
    for href in parser.hrefs:
        url = urllib.parse.urljoin(index_url, href)
        if Path(urllib.parse.urlsplit(url).path).name == SDIST_NAME:
            return urllib.parse.urldefrag(url).url
    raise SdistUnavailable(f"{SDIST_NAME} is not listed on {index_url}")


def obtain_sdist(path: Path | None = None) -> Path:
    """The verified sdist: ``path`` if given, else the cached copy, else a fresh download.

    Raises ``SdistUnavailable`` when it cannot be downloaded and is not cached, and
    ``ValueError`` when a file's sha256 is not the pinned one (never silently accepted).
    """
    if path is not None:
        if sha256(path) != SDIST_SHA256:
            raise ValueError(f"{path}: sha256 is not {SDIST_SHA256}")
        return path
    cached = cache_dir() / SDIST_NAME
    if cached.is_file() and sha256(cached) == SDIST_SHA256:
        return cached
    try:
        url = sdist_url()
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=cached.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
                for block in iter(lambda: r.read(1 << 20), b""):
                    out.write(block)
            if sha256(Path(partial)) != SDIST_SHA256:
                raise ValueError(f"{url}: downloaded file's sha256 is not {SDIST_SHA256}")
            os.replace(partial, cached)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise SdistUnavailable(f"cannot download {SDIST_NAME} from PyPI: {exc}") from exc
    return cached


def extract_tests(sdist: Path, dest: Path) -> Path:
    """Write the two test files into ``dest`` (import swapped); return the path of als_test.py.

    Reads only ``MEMBERS`` (regular files) from the archive and writes them under their base
    names, so nothing in the archive can choose where a file lands.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist, "r:gz") as tar:
        for name in MEMBERS:
            member = tar.getmember(name)
            source = tar.extractfile(member) if member.isfile() else None
            if source is None:
                raise ValueError(f"{sdist}: {name} is not a regular file")
            text = source.read().decode("utf-8")
            if Path(name).name == ALS_TEST:
                text = swap_import(text)
            (dest / Path(name).name).write_text(text, encoding="utf-8")
    return dest / ALS_TEST


def swap_import(text: str) -> str:
    """Replace the one line ``OLD_IMPORT`` with ``NEW_IMPORT``; fail if it is not there once."""
    pattern = re.compile(rf"^{re.escape(OLD_IMPORT)}[ \t]*$", re.MULTILINE)
    new_text, count = pattern.subn(NEW_IMPORT, text)
    if count != 1:
        raise ValueError(f"expected the line {OLD_IMPORT!r} once in {ALS_TEST}, found {count}")
    return new_text


def run_pytest(test_file: Path, pytest_args: list[str]) -> int:
    """pytest on ``test_file`` in a subprocess of this interpreter; its exit code."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]
    return subprocess.run([*command, *pytest_args], cwd=test_file.parent).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        epilog="Any other arguments are passed to pytest (e.g. -k factorize -x).",
        allow_abbrev=False,
    )
    parser.add_argument("--sdist", type=Path, help=f"a local {SDIST_NAME} (no download)")
    parser.add_argument("--keep", type=Path, help="write the test files here and keep them")
    args, pytest_args = parser.parse_known_args(argv)
    if args.sdist is not None and not args.sdist.is_file():
        parser.error(f"--sdist {args.sdist}: no such file")
    try:
        sdist = obtain_sdist(args.sdist)
    except SdistUnavailable as exc:
        print(f"implicit_suite: sdist unavailable: {exc}", file=sys.stderr)
        return EXIT_SDIST_UNAVAILABLE
    if args.keep is not None:
        return run_pytest(extract_tests(sdist, args.keep), pytest_args)
    with tempfile.TemporaryDirectory(prefix="implicit_suite_") as tmp:
        return run_pytest(extract_tests(sdist, Path(tmp)), pytest_args)


if __name__ == "__main__":
    sys.exit(main())
