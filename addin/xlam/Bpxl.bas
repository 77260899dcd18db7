Attribute VB_Name = "Bpxl"
' The BillingPlatform ribbon and worksheet functions: thin wrappers over Python.
' bpxl.xlam is built from this file, customUI.xml and xlwings' VBA by `bpxl addin build`.
' Every button calls BpxlAction, which hands the button's id to bpxl.excel.ribbon.action (Python).
' The UDF wrappers call bpxl.excel.udfs through the xlwings module of this add-in.
Option Explicit

Private ribbon As IRibbonUI

Sub BpxlRibbonLoaded(ByVal loaded As IRibbonUI)
    Set ribbon = loaded
End Sub

Function BpxlRefreshRibbon() As Boolean
    ' Called by Python after Connect... so the label shows the new target. False when the link
    ' to the ribbon is lost (a VBA reset clears it until Excel restarts): Python then says the
    ' new target in a message box instead.
    If ribbon Is Nothing Then Exit Function
    ribbon.InvalidateControl "bpxlTarget"
    BpxlRefreshRibbon = True
End Function

Sub BpxlAction(control As IRibbonControl)
    ' Ordinary situations get a message box in plain words, never a Visual Basic error dialog.
    If Not Application.ActiveProtectedViewWindow Is Nothing Then
        MsgBox "This workbook is open in Protected View, where add-ins cannot read or write it. " & _
            "Click Enable Editing in the yellow bar if you trust it, then press the button again.", _
            vbInformation, "BillingPlatform"
        Exit Sub
    End If
    If ActiveWorkbook Is Nothing Then
        MsgBox "Open a workbook first (File > New > Blank workbook will do), then press " & _
            "the button again.", vbInformation, "BillingPlatform"
        Exit Sub
    End If
    On Error GoTo failed
    RunPython "import bpxl.excel.ribbon; bpxl.excel.ribbon.action('" & control.ID & "')"
    Exit Sub
failed:
    MsgBox "The BillingPlatform add-in could not start its Python part (" & Err.Description & _
        "). Run install.ps1 again, then restart Excel." & vbCrLf & vbCrLf & _
        "If it still fails, this computer's security rules may block it: Office rules that stop " & _
        "Excel from starting programs or from calling Windows from macros, or AppLocker. Ask IT " & _
        "to allow what the README's 'For IT' section lists.", vbExclamation, "BillingPlatform"
End Sub

Sub BpxlPoll()
    ' Scheduled by Python with Application.OnTime while a button's work runs in the background
    ' (bpxl.excel.background): each call does what the work has for Excel (results, progress,
    ' questions) for a second at most, then Python schedules the next one. Excel stays usable.
    On Error GoTo failed
    RunPython "import bpxl.excel.ribbon; bpxl.excel.ribbon.poll()"
    Exit Sub
failed:
    Application.StatusBar = False
    MsgBox "The BillingPlatform add-in lost its Python part while sending (" & Err.Description & _
        "). Click Recover last run: it writes what happened to every row.", vbExclamation, "BillingPlatform"
End Sub

Sub BpxlTargetLabel(control As IRibbonControl, ByRef label)
    label = "Next write: " & BpxlTarget()
End Sub

Private Function BpxlTarget() As String
    ' Python keeps the label in %USERPROFILE%\.bpxl\target.txt (no secrets: a name and a URL),
    ' in the ANSI code page that Line Input reads. No file: nothing was chosen, so the sandbox.
    Dim path As String, handle As Integer, text As String
    On Error GoTo unreadable
    path = Environ("USERPROFILE") & "\.bpxl\target.txt"
    If Dir(path) = "" Then
        BpxlTarget = "SANDBOX (on this computer)"
        Exit Function
    End If
    handle = FreeFile
    Open path For Input As #handle
    If Not EOF(handle) Then Line Input #handle, text
    Close #handle
    If Trim(text) = "" Then GoTo unknown
    BpxlTarget = text
    Exit Function
unreadable:
    Resume unknown  ' leaves the error handler, so the Close below cannot raise a dialog
unknown:
    On Error Resume Next
    Close #handle
    BpxlTarget = "not known (press Connect... to choose)"
End Function

Function BP_INVOICE(record_id, field)
    If TypeOf Application.Caller Is Range Then On Error GoTo failed
    BP_INVOICE = XLPy.CallUDF("bpxl.excel.udfs", "BP_INVOICE", Array(record_id, field), ActiveWorkbook, Application.Caller)
    Exit Function
failed:
    BP_INVOICE = Err.Description
End Function

Function BP_QUERY(sql)
    If TypeOf Application.Caller Is Range Then On Error GoTo failed
    BP_QUERY = XLPy.CallUDF("bpxl.excel.udfs", "BP_QUERY", Array(sql), ActiveWorkbook, Application.Caller)
    Exit Function
failed:
    BP_QUERY = Err.Description
End Function

Function BP_FIELDS()
    If TypeOf Application.Caller Is Range Then On Error GoTo failed
    BP_FIELDS = XLPy.CallUDF("bpxl.excel.udfs", "BP_FIELDS", Array(), ActiveWorkbook, Application.Caller)
    Exit Function
failed:
    BP_FIELDS = Err.Description
End Function
