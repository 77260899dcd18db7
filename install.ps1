<#
.SYNOPSIS
    Installs bpxl, the BillingPlatform add-in for Excel, for the current Windows user.

.DESCRIPTION
    No administrator rights are needed. The script
      1. finds Python 3.10 or newer (or says how to get it),
      2. creates a private virtual environment in %LOCALAPPDATA%\bpxl\venv,
      3. installs bpxl into it (from this folder, or from -Source),
      4. runs `bpxl addin install`, which puts bpxl.xlam in Excel's startup folder, points the
         add-in at that Python and puts the invoice template where the ribbon finds it.
    -Uninstall runs `bpxl addin uninstall` and removes the environment and bpxl's data folder.
    The real steps live in Python (bpxl addin install/uninstall) and are tested there; this
    script only finds Python and creates the environment.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -Uninstall
#>
param(
    [switch]$Uninstall,
    # A folder holding bpxl's pyproject.toml, or a wheel file; default: this script's folder.
    [string]$Source = $PSScriptRoot
)

$ErrorActionPreference = "Stop"
$Root = Join-Path $env:LOCALAPPDATA "bpxl"
$Venv = Join-Path $Root "venv"
$Bpxl = Join-Path $Venv "Scripts\bpxl.exe"

function Find-Python {
    # The py launcher first (it knows every installed version), then python on PATH.
    $candidates = @(
        @("py", "-3.13"), @("py", "-3.12"), @("py", "-3.11"), @("py", "-3.10"),
        @("python"), @("python3")
    )
    foreach ($candidate in $candidates) {
        $exe = $candidate[0]
        $rest = @($candidate | Select-Object -Skip 1)
        if (-not (Get-Command $exe -ErrorAction SilentlyContinue)) { continue }
        try {
            $ok = & $exe @rest -c "import sys; print(sys.version_info >= (3, 10))" 2>$null
        } catch { continue }
        if ($ok -eq "True") { return ,@($exe) + $rest }
    }
    return $null
}

if ($Uninstall) {
    if (Test-Path $Bpxl) { & $Bpxl addin uninstall }
    if (Test-Path $Root) { Remove-Item -Recurse -Force $Root }
    Write-Host "bpxl is uninstalled. Restart Excel to remove the BillingPlatform tab."
    Write-Host "Saved passwords stay in Windows Credential Manager under 'bpxl' until you delete them."
    exit 0
}

$python = Find-Python
if (-not $python) {
    Write-Host "bpxl needs Python 3.10 or newer, and none was found." -ForegroundColor Red
    Write-Host "Install it from the Microsoft Store (search 'Python 3.12') or https://www.python.org,"
    Write-Host "then run this script again. No administrator rights are needed for either."
    exit 1
}

Write-Host "Creating bpxl's private Python environment in $Venv ..."
$exe = $python[0]
$rest = @($python | Select-Object -Skip 1)
& $exe @rest -m venv $Venv
if ($LASTEXITCODE -ne 0) { throw "Could not create the environment in $Venv." }

Write-Host "Installing bpxl from $Source ..."
& (Join-Path $Venv "Scripts\python.exe") -m pip install --quiet --upgrade pip
& (Join-Path $Venv "Scripts\python.exe") -m pip install --quiet $Source
if ($LASTEXITCODE -ne 0) { throw "pip could not install bpxl from $Source." }

& $Bpxl addin install
if ($LASTEXITCODE -ne 0) { throw "bpxl addin install failed." }
Write-Host ""
Write-Host "Done. Start Excel (close it first if it is open): the BillingPlatform tab is there." -ForegroundColor Green
Write-Host "Until you choose Connect..., sends go to a sandbox on this computer, not to BillingPlatform."
