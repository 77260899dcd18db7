<#
.SYNOPSIS
    Installs bpxl, the BillingPlatform add-in for Excel, for the current Windows user.

.DESCRIPTION
    No administrator rights are needed. The script
      1. finds a 64-bit (x64) Python 3.11 or newer from python.org (or says how to get it),
      2. creates a private virtual environment in %LOCALAPPDATA%\bpxl\venv,
      3. installs bpxl into it (from this folder, or from -Source),
      4. runs `bpxl addin install`, which puts bpxl.xlam in Excel's startup folder, points the
         add-in at that Python and puts the invoice template where the ribbon finds it.
    Every check (64-bit python.org Python, not the Microsoft Store's, xlwings' DLLs present,
    Excel closed) lives in Python, in addin\bpxl\excel\preflight.py, and is tested there: this script
    runs it before it creates the environment, and `bpxl addin install` runs it again.

    Every run makes the environment afresh (a newer Python, or a package built for the old one,
    never lingers), from PyPI through the proxy Windows is set to use (or -Proxy), or with
    -Wheels from a folder of wheels alone, for computers that cannot reach PyPI: fill that folder
    on a computer with the internet with `bpxl addin wheels FOLDER`.

    -Uninstall runs `bpxl addin uninstall` and removes the environment. Your journals (what a
    send that stopped mid-way did) and revert data stay in %LOCALAPPDATA%\bpxl, so Recover and
    Revert still work after a reinstall; add -Purge to delete them too.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -Proxy http://proxy.example.com:8080
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -Wheels D:\bpxl-wheels
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -Uninstall
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File install.ps1 -Uninstall -Purge
#>
param(
    [switch]$Uninstall,
    # With -Uninstall: also delete the journals, revert data and the sandbox's records.
    [switch]$Purge,
    # A folder holding bpxl's pyproject.toml, or a wheel file; default: this script's folder.
    [string]$Source = $PSScriptRoot,
    # The proxy pip goes through, e.g. http://proxy.example.com:8080; default: Windows' own.
    [string]$Proxy = "",
    # A folder of wheels (bpxl addin wheels FOLDER): install from it alone, offline.
    [string]$Wheels = ""
)

$ErrorActionPreference = "Stop"
$Root = Join-Path $env:LOCALAPPDATA "bpxl"
$Venv = Join-Path $Root "venv"
$Bpxl = Join-Path $Venv "Scripts\bpxl.exe"
$Preflight = Join-Path $Source "addin\bpxl\excel\preflight.py"
$GetPython = "Install Python from https://www.python.org (Windows installer (64-bit), choose " +
    "'Install for me only': no administrator rights needed), or run: winget install Python.Python.3.12"

$ItMustAllow = "Ask IT to allow (see README, 'For IT'): $Venv\Scripts\python.exe and " +
    "pythonw.exe (AppLocker or another application control), and for Excel bpxl.xlam in " +
    "%APPDATA%\Microsoft\Excel\XLSTART, which starts pythonw.exe and loads xlwings' DLL (the " +
    "Office rules 'Block all Office applications from creating child processes' and 'Block " +
    "Win32 API calls from Office macros')."

function Find-Python {
    # The py launcher first (it knows every installed version; newest first, 3.14 included, and
    # whatever it lists beyond), then python on PATH. The first Python 3.11+ that preflight.py
    # accepts wins; $script:Refusal keeps why the others did not.
    $candidates = @(@("py", "-3.14"), @("py", "-3.13"), @("py", "-3.12"), @("py", "-3.11"))
    if (Get-Command py -ErrorAction SilentlyContinue) {
        foreach ($line in (& py -0p 2>$null)) {
            if ($line -match '^\s*-V:(3\.\d+)\S*\s+\*?\s*(\S.*python\.exe)\s*$') {
                $candidates += ,@($Matches[2].Trim())
            }
        }
    }
    $candidates += ,@("python")
    $candidates += ,@("python3")
    foreach ($candidate in $candidates) {
        $exe = $candidate[0]
        $rest = @($candidate | Select-Object -Skip 1)
        if (-not (Get-Command $exe -ErrorAction SilentlyContinue)) { continue }
        try {
            $ok = & $exe @rest -c "import sys; print(sys.version_info >= (3, 11))" 2>$null
        } catch { continue }
        if ($ok -ne "True") { continue }
        if (Test-Path $Preflight) {
            $refusal = & $exe @rest $Preflight --before-install | Out-String
            if ($LASTEXITCODE -ne 0) {
                if (-not $script:Refusal) { $script:Refusal = $refusal }
                continue
            }
        }
        return ,@($exe) + $rest
    }
    return $null
}

if ($Uninstall) {
    if (Test-Path $Bpxl) {
        $purgeOption = @()
        if ($Purge) { $purgeOption = @("--purge") }
        & $Bpxl addin uninstall @purgeOption
        if ($LASTEXITCODE -ne 0) { exit 1 }  # bpxl said why (Excel open): nothing was removed
    }
    if (Test-Path $Venv) { Remove-Item -Recurse -Force $Venv }
    if ($Purge -and (Test-Path $Root)) { Remove-Item -Recurse -Force $Root }
    Write-Host "bpxl is uninstalled. Restart Excel to remove the BillingPlatform tab."
    if (-not $Purge) {
        Write-Host "Your journals and revert data stay in $Root (-Uninstall -Purge deletes them)."
    }
    Write-Host "Saved passwords stay in Windows Credential Manager under 'bpxl' until you delete them."
    exit 0
}

$python = Find-Python
if (-not $python) {
    if ($script:Refusal) {
        Write-Host $script:Refusal -ForegroundColor Red
    } else {
        Write-Host "bpxl needs 64-bit Python 3.11 or newer, and none was found." -ForegroundColor Red
        Write-Host "$GetPython, then run this script again."
    }
    exit 1
}

Write-Host "Creating bpxl's private Python environment in $Venv ..."
$exe = $python[0]
$rest = @($python | Select-Object -Skip 1)
# --clear: made afresh each time, so nothing built for another Python stays (import lxml.etree
# failed after a Python upgrade when the new environment was laid over the old one).
& $exe @rest -m venv --clear $Venv
if ($LASTEXITCODE -ne 0) { throw "Could not create the environment in $Venv." }
$VenvPython = Join-Path $Venv "Scripts\python.exe"
try {
    & $VenvPython -c "pass"
    $started = ($LASTEXITCODE -eq 0)
} catch { $started = $false }
if (-not $started) {
    Write-Host "Windows did not let bpxl's Python start ($VenvPython): this computer's security rules block it." -ForegroundColor Red
    Write-Host $ItMustAllow
    exit 1
}

$pipOptions = @("--quiet", "--disable-pip-version-check")
if ($Wheels) {
    # Offline: from the folder alone, never the internet.
    $pipOptions += @("--no-index", "--find-links", $Wheels)
    $what = "bpxl"
    Write-Host "Installing bpxl from the wheels in $Wheels ..."
} else {
    if (-not $Proxy) {
        # Windows' own proxy for PyPI (set by hand, by a PAC script or by WPAD): pip reads only
        # HTTP(S)_PROXY, so it is handed over. None when PyPI is reached directly.
        $pypi = [Uri]"https://pypi.org/simple/"
        $system = [System.Net.WebRequest]::GetSystemWebProxy().GetProxy($pypi)
        if ($system -and $system.AbsoluteUri -ne $pypi.AbsoluteUri) { $Proxy = $system.AbsoluteUri }
    }
    if ($Proxy) {
        $pipOptions += @("--proxy", $Proxy)
        Write-Host "Going through the proxy $Proxy"
    }
    $what = $Source
    Write-Host "Installing bpxl from $Source ..."
}
& $VenvPython -m pip install @pipOptions $what
if ($LASTEXITCODE -ne 0) {
    Write-Host "pip could not install bpxl (see its message above)." -ForegroundColor Red
    if (-not $Wheels) {
        Write-Host ("If this computer reaches the internet only through a proxy that wants your " +
            "Windows sign-in, install from a folder of wheels instead: on a computer with the " +
            "internet run  bpxl addin wheels D:\bpxl-wheels  then here  install.ps1 " +
            "-Wheels D:\bpxl-wheels  (or give the proxy with -Proxy http://host:port).")
    }
    exit 1
}

& $Bpxl addin install
if ($LASTEXITCODE -ne 0) {
    Write-Host "Nothing was added to Excel: fix what bpxl said above, then run this script again." -ForegroundColor Red
    exit 1
}
Write-Host ""
Write-Host "Done. Start Excel: the BillingPlatform tab is there." -ForegroundColor Green
Write-Host "Until you choose Connect..., sends go to a sandbox on this computer, not to BillingPlatform."
