"""OCI distribution client: a remote repository is one more Store."""

import sys
import types


def _without_httpx_cli() -> None:
    """Keep httpx from importing its command-line client along with the library.

    httpx imports ``httpx._main`` (click, rich, pygments: about 70 modules) whenever
    those are importable, and for us they always are. That was a third of ``kit pull``'s
    start-up, for a CLI kitops never calls. A stand-in module keeps ``httpx.main``
    defined; calling it says how to get the real one. Nothing changes if httpx was
    imported before kitops.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main", "Stand-in for httpx's command line, not loaded by kitops.")

    def main(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("httpx's command line is not loaded in a process that imported kitops first; "
                           "run `python -m httpx` instead")

    stand_in.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in


_without_httpx_cli()
