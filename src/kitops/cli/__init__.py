"""The ``kit`` command line (``kitops.cli.main``) and the PyKitOps-compatible functions (``kitops.cli.kit``)."""
