"""The PyKitOps SDK (the ``kitops`` package on PyPI, version 1.5.0), on :mod:`kitops.api`.

The code lives here; PyKitOps' import paths are short modules that re-export it:

* ``kitops.cli.kit``: :mod:`.kit`, one function per ``kit`` command, and ``_run``;
* ``kitops.modelkit.kitfile``: :mod:`.kitfile` (the Pydantic ``Kitfile``);
* ``kitops.modelkit.manager``: :mod:`.manager` (``ModelKitManager``);
* ``kitops.modelkit.reference``: :mod:`.reference` (``ModelKitReference``);
* ``kitops.modelkit.user``: :mod:`.user` (``UserCredentials``);
* ``kitops.modelkit.utils``: :mod:`.utils`.

The Pydantic models themselves stay at ``kitops.modelkit._pydantic_kit``, their PyKitOps path.
"""
