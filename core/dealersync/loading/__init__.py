"""Loading a source's batches into the warehouse, set-oriented, with quarantine.

:func:`load_source` takes what a :class:`~dealersync.Source` yields (extract files and record
batches) and replaces that source's rows in every table it delivers (full-snapshot semantics), one
transaction per table. Re-running the same load gives identical tables.

The package, in the order a load runs:

* :mod:`~dealersync.loading.load`: :func:`load_source`, check every batch, then stage and
  replace table by table (a table's staging is dropped once it is in);
* :mod:`~dealersync.loading.unchanged`: a table whose files are byte-identical to its last
  load is skipped (``_load_files``; ``force=True`` reloads);
* :mod:`~dealersync.loading.staging`: the per-load temp tables a batch is staged in;
* :mod:`~dealersync.loading.csv_files`: an extract file, read by DuckDB and checked in SQL, with
  :mod:`~dealersync.loading.layout` (header and column mapping),
  :mod:`~dealersync.loading.checks` (typed conversion, bad cells, missing keys),
  :mod:`~dealersync.loading.rejects` (DuckDB's structural rejects) and
  :mod:`~dealersync.loading.lines` / :mod:`~dealersync.loading.line_walk` (physical lines);
* :mod:`~dealersync.loading.records`: a record batch, validated against the pydantic model;
* :mod:`~dealersync.loading.duplicates` and :mod:`~dealersync.loading.replace`: repeated keys
  and the one-transaction snapshot replace, which records the changed customers
  (:mod:`~dealersync.loading.changed`) in the change log;
* :mod:`~dealersync.loading.reports`: :class:`LoadReport` and :class:`FileReport`.
"""

from dealersync.loading.checks import FALSE_WORDS, TRUE_WORDS
from dealersync.loading.load import load_source
from dealersync.loading.reports import FileReport, LoadReport

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "FileReport", "LoadReport", "load_source"]
