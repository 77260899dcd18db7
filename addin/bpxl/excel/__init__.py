"""The Excel front end (xlwings): the ribbon's buttons, the worksheet functions, the add-in.

``ribbon`` holds what each button does (the VBA's RunPython calls ``bpxl.excel.ribbon.action``),
``background`` runs that work off Excel's thread so that no call into Python lasts long,
``range_io`` the whole-range reads and writes, ``roundtrip`` the ribbon's pull, send changed and
revert, ``book_file`` the file a workbook stands for (OneDrive and SharePoint too), ``udfs`` the
worksheet functions; ``xlam``, ``vba``, ``install``, ``preflight`` and ``wheels`` build and
install the add-in, ``smoke`` writes the smoke test's workbook. Never imported by the core or the
.xlsx front end.
"""
