"""The audience report: one self-contained HTML file of what the warehouse holds.

:mod:`.data` reads the warehouse (run history, loads, quarantine, identity indexes, overlaps),
:mod:`.scrub` keeps customer values out of free text, :mod:`.charts` renders Vega-Lite specs to
SVG, :mod:`.render` writes the page and :mod:`.build` ties them together. :mod:`.overlaps` is
the bookkeeping a sync writes for it. Importing this package imports nothing heavy: the sync
imports :mod:`.overlaps`.
"""
