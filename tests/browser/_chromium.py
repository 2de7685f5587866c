"""Find the Chromium the browser tests drive, and install Debian's when it is missing.

The browser tests use Playwright with the system's Chromium (``executable_path``), never
a browser build of Playwright's own (``playwright install`` downloads one from a host
that this project's machines cannot reach). ``make test`` runs this file first
(``python tests/browser/_chromium.py --install``):

- a Chromium found (``$CHROMIUM``, ``chromium``, ``chromium-browser`` on the ``PATH``,
  ``/usr/bin/chromium``): nothing to do;
- none, and running as root on Debian: ``apt-get install -y --no-install-recommends
  chromium`` (after ``apt-get update`` if the package lists do not know it yet), saying
  so first; ``CONNTRACK_NO_APT=1`` turns that off;
- otherwise: nothing installed; the browser tests skip, and say why.

``tests/browser/conftest.py`` uses :func:`find` and :func:`missing_reason`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

#: Where Debian (``chromium``) and others (``chromium-browser``) put it.
CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium", "/usr/lib/chromium/chromium")
APT = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
#: Downloading and unpacking Chromium takes a minute or two; more is a hung mirror.
APT_TIMEOUT_S = 900


def find() -> str | None:
    """The Chromium to drive: ``$CHROMIUM`` if set (and nothing else then), else the
    first of :data:`CANDIDATES` that exists; ``None`` if there is none."""
    wanted = os.environ.get("CHROMIUM")
    for name in (wanted,) if wanted else CANDIDATES:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def missing_reason() -> str:
    """Why there is no Chromium, and what to do: the browser tests' skip reason."""
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return f"CHROMIUM={wanted} is not an executable Chromium"
    return (
        "no Chromium found (chromium, chromium-browser, /usr/bin/chromium): run "
        "'make test' as root to install Debian's package, or 'apt-get install chromium', "
        "or set CHROMIUM=/path/to/chromium"
    )


def _say(message: str) -> None:
    print(f"tests/browser: {message}", file=sys.stderr, flush=True)


def install() -> str | None:
    """Install Debian's ``chromium`` if there is none and we may; answer the path."""
    found = find()
    if found is not None:
        _say(f"the browser tests drive {found}")
        return found
    if os.environ.get("CHROMIUM"):
        _say(missing_reason() + "; the browser tests will be skipped")
        return None
    if os.environ.get("CONNTRACK_NO_APT"):
        _say("no Chromium, and CONNTRACK_NO_APT is set: the browser tests will be skipped")
        return None
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        _say(missing_reason() + "; the browser tests will be skipped")
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _say("no Chromium: installing Debian's package for the browser tests: " + " ".join(APT))
    try:
        done = subprocess.run(APT, env=env, timeout=APT_TIMEOUT_S, check=False)
        if done.returncode != 0:
            _say("the package lists may be stale: apt-get update, then install again")
            subprocess.run(["apt-get", "update"], env=env, timeout=APT_TIMEOUT_S, check=False)
            subprocess.run(APT, env=env, timeout=APT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        _say(f"apt-get took more than {APT_TIMEOUT_S} s; giving up")
    found = find()
    _say(f"Chromium installed: {found}" if found else "Chromium could not be installed")
    return found


if __name__ == "__main__":
    if sys.argv[1:] == ["--install"]:
        install()
    else:
        print(find() or missing_reason())
