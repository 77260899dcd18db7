"""bpxl: create, update and upsert BillingPlatform INVOICE records from spreadsheet rows.

The folders are the design (docs/architecture.md): ``core`` takes a grid of cell values and returns
one result per row, and never touches a workbook library; ``workbook`` (.xlsx files) and ``excel``
(the add-in, xlwings) are its two front ends; ``cli`` is the command line over both, ``template``
builds the invoice workbook for both, and ``sandbox`` is the local stand-in for BillingPlatform.
"""

__version__ = "0.1.0"
