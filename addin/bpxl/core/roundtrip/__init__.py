"""The round trip: pull invoices into a sheet, send what changed since, revert the last update.

One module per job: ``pulls`` (what a pull asks for and where each invoice lands), ``queries``
(the server queries: invoices, stamps, conflicts), ``pull_memory`` (what a pull remembers),
``edits`` (what changed since the pull), ``sends`` (the changed-rows, recorded and revert sends)
and ``revert_memory`` (what an update replaced, kept for a revert). The front ends keep the
memory in their own way (``bpxl.workbook.pulling``, ``bpxl.excel.roundtrip``).
"""
