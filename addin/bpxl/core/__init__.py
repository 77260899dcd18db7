"""The core: a grid of cell values in, one result per row out; no workbook library here.

Fields and their cells (``fields``, ``describe``, ``cells``, ``records``), the HTTP client and what
answers mean (``client``, ``answers``, ``redact``, ``reconcile``), the push and its safety
(``push``, ``journal``, ``recover``, ``unsettled``, ``sending``, ``writer_lock``), where a push goes
(``connection``, ``profiles``) and the round trip (``roundtrip/``). Nothing here imports openpyxl,
lxml, xlwings or a front end; ``tests/test_layout.py`` checks it.
"""
