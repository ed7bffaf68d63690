"""Importers: a Hugging Face repository or a git (+ LFS) repository fetched, verified and staged as
a directory with a Kitfile, for :func:`kitops.api.import_hf` to pack. They never pack, prompt or
print; :func:`kitops.importers.staging.stage_import` is the entry point.

- :mod:`kitops.importers.hfsource`: parsing the source, and the checks of a remote listing;
- :mod:`kitops.importers.hfhub`: ``huggingface_hub``: listing, verified resumable downloads, cache reuse;
- :mod:`kitops.importers.huggingface` / :mod:`kitops.importers.gitimport`: staging per tool;
- :mod:`kitops.importers.cards`: the generated Kitfile (model card licence and base model).
"""
