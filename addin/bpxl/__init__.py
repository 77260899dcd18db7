"""bpxl: create, update and upsert BillingPlatform INVOICE records from spreadsheet rows.

The core (this package minus ``xlsx``, ``template``, ``cli`` and the Excel glue) never touches a
workbook library: it takes a grid of cell values and returns one result per row.
"""

__version__ = "0.1.0"
