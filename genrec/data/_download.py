"""Downloading a file with a progress bar, and the digests that check what arrived."""

from __future__ import annotations

import hashlib
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm


class FetchError(RuntimeError):
    """No source gave a valid copy of the dataset."""


class Unreachable(FetchError):
    """The server could not be reached at all (no route, no name, refused, timed out)."""


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, timeout: float) -> None:
    """Stream `url` to `dest` with a progress bar on stderr.

    Raises:
        Unreachable: the server did not answer (name, route, refused connection or `timeout`).
        FetchError: it answered with an HTTP error, or the transfer broke off.
    """
    try:
        resp = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http(s) URL from settings)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"{url} cannot be reached ({reason})") from None
    with resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        try:
            with (
                Path(dest).open("wb") as f,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=f"download {Path(dest).name}",
                    file=sys.stderr,
                ) as bar,
            ):
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
                    bar.update(len(chunk))
        except (OSError, TimeoutError) as exc:
            raise FetchError(f"{url}: the download broke off ({exc})") from None
