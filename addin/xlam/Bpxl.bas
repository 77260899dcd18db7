Attribute VB_Name = "Bpxl"
' The BillingPlatform ribbon and worksheet functions: thin wrappers over Python.
' bpxl.xlam is built from this file, customUI.xml and xlwings' VBA by `bpxl addin build`.
' Every button calls BpxlAction, which hands the button's id to bpxl.excel.action (Python).
' The UDF wrappers call bpxl.udfs through the xlwings module of this add-in.
Option Explicit

Private ribbon As IRibbonUI

Sub BpxlRibbonLoaded(ByVal loaded As IRibbonUI)
    Set ribbon = loaded
End Sub

Sub BpxlRefreshRibbon()
    ' Called by Python after Connect... so the label shows the new target.
    If Not ribbon Is Nothing Then ribbon.InvalidateControl "bpxlTarget"
End Sub

Sub BpxlAction(control As IRibbonControl)
    RunPython "import bpxl.excel; bpxl.excel.action('" & control.ID & "')"
End Sub

Sub BpxlTargetLabel(control As IRibbonControl, ByRef label)
    label = "Next write: " & BpxlTarget()
End Sub

Private Function BpxlTarget() As String
    ' Python keeps the label in %USERPROFILE%\.bpxl\target.txt (no secrets: a name and a URL).
    Dim path As String, handle As Integer, text As String
    path = Environ("USERPROFILE") & "\.bpxl\target.txt"
    If Dir(path) = "" Then
        BpxlTarget = "SANDBOX (on this computer)"
        Exit Function
    End If
    handle = FreeFile
    Open path For Input As #handle
    Line Input #handle, text
    Close #handle
    BpxlTarget = text
End Function

Function BP_INVOICE(record_id, field)
    If TypeOf Application.Caller Is Range Then On Error GoTo failed
    BP_INVOICE = XLPy.CallUDF("bpxl.udfs", "BP_INVOICE", Array(record_id, field), ActiveWorkbook, Application.Caller)
    Exit Function
failed:
    BP_INVOICE = Err.Description
End Function

Function BP_QUERY(sql)
    If TypeOf Application.Caller Is Range Then On Error GoTo failed
    BP_QUERY = XLPy.CallUDF("bpxl.udfs", "BP_QUERY", Array(sql), ActiveWorkbook, Application.Caller)
    Exit Function
failed:
    BP_QUERY = Err.Description
End Function

Function BP_FIELDS()
    If TypeOf Application.Caller Is Range Then On Error GoTo failed
    BP_FIELDS = XLPy.CallUDF("bpxl.udfs", "BP_FIELDS", Array(), ActiveWorkbook, Application.Caller)
    Exit Function
failed:
    BP_FIELDS = Err.Description
End Function
