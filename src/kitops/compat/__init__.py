"""Other packages' import paths, served by kitops: each subpackage is a thin layer over :mod:`kitops.api`."""
