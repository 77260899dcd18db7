"""The Excel front end (xlwings): the ribbon's buttons, the worksheet functions, the add-in.

``ribbon`` holds what each button does (the VBA's RunPython calls ``bpxl.excel.ribbon.action``),
``range_io`` the whole-range reads and writes, ``roundtrip`` the ribbon's pull, send changed and
revert, ``udfs`` the worksheet functions; ``xlam``, ``vba``, ``install`` and ``preflight`` build
and install the add-in. Never imported by the core or the .xlsx front end.
"""
