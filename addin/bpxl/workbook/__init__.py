"""The .xlsx front end's files: read a workbook, write results and pulls back (openpyxl, lxml).

Used by the command line (``bpxl.cli``); never by the core or the Excel add-in.
"""
