; Inno Setup 6 script: the Windows installer for gsmbridge.
; Build the bundle first (python installer\build.py), then either
;   python installer\build.py --installer
; or
;   "%LOCALAPPDATA%\Programs\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 installer\gsmbridge.iss
; Output: dist\gsmbridge-<version>-setup.exe
;
; Per-user by default (no administrator rights, installs in %LOCALAPPDATA%\Programs);
; "Install for all users" (or /ALLUSERS) installs in Program Files and can add the
; firewall rule. Settings, queue and logs live in %LOCALAPPDATA%\gsmbridge (platformdirs),
; which the uninstaller keeps unless the user asks to delete them.

#if VER < EncodeVer(6, 3, 0)
  #error Inno Setup 6.3 or newer is needed (x64compatible architecture identifiers)
#endif

#define AppName "gsmbridge"
; The names PyInstaller gives the executables (GUI_NAME, CLI_NAME in gsmbridge.spec).
#define AppExeName "gsmbridge.exe"
#define CliExeName "gsmbridge-cli.exe"
#define BundleDir "dist\gsmbridge"
; Created by installer\entry.py while gsmbridge runs (MUTEX_NAME there).
#define AppMutexName "gsmbridge-running"
#define FirewallRule "gsmbridge webhook"
; The scheduled task of "Start at boot" (runs gsmbridge-cli --headless as SYSTEM).
#define BootTask "gsmbridge at boot"
; The value gsmbridge\gui\autostart.py writes for "Start at login": the installer's task
; and the app's setting are the same switch.
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define RunValue "gsmbridge"
#ifndef AppVersion
  #define AppVersion GetVersionNumbersString(AddBackslash(SourcePath) + "..\" + BundleDir + "\" + AppExeName)
#endif

[Setup]
; Never change AppId: upgrades and the uninstaller find earlier installs by it.
AppId={{552F959A-3CD3-46C7-8333-C62007EF81DC}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
AppComments=CometChat custom SMS provider: sends notifications through a USB GSM modem
; Paths below are relative to the repository root.
SourceDir=..
OutputDir=dist
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=resources\gsmbridge.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
; {autopf} is %LOCALAPPDATA%\Programs per user, Program Files for all users.
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=commandline dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; A running gsmbridge holds the serial port and the webhook port, and its files are in
; use: Setup and the uninstaller ask the user to quit it from the tray first (AppMutex),
; and the Restart Manager closes what still uses files in {app} (e.g. a gsmbridge-cli in
; a console). The queue is on disk (SQLite, synchronous=FULL), so a forced close loses
; nothing already answered 200.
AppMutex={#AppMutexName},Global\{#AppMutexName}
CloseApplications=yes
RestartApplications=no
; The start-at-login value is per user (HKCU) even in an all-users install, like the
; app's own setting.
UsedUserAreasWarning=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "startatlogin"; Description: "Start gsmbridge when I log in (it waits in the notification area)"; GroupDescription: "Start-up:"; Flags: unchecked
; Before anyone logs on, for PCs that reboot for updates unattended: a scheduled task as
; SYSTEM (no password to store) with this user's data folder and config. Needs "Install
; for all users" (creating a SYSTEM task needs administrator rights).
Name: "startatboot"; Description: "Start gsmbridge at boot, before anyone logs on (in the background, no window; instead of starting at login)"; GroupDescription: "Start-up:"; Flags: unchecked; Check: IsAdminInstallMode

[InstallDelete]
; An upgrade replaces the libraries wholesale: a DLL left over from the previous version
; could be loaded by the new one.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Comment: "CometChat SMS gateway"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValue}"; ValueData: """{app}\{#AppExeName}"" --minimized"; Flags: uninsdeletevalue; Tasks: startatlogin

[Run]
; Firewall: only with administrator rights (netsh cannot add rules otherwise), and only
; if the user chose a network address on the "Webhook address" page. The old rule goes
; first, so a changed port or a change back to loopback takes effect on upgrade.
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall delete rule name=""{#FirewallRule}"""; Flags: runhidden; StatusMsg: "Updating the firewall rule..."; Check: IsAdminInstallMode
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall add rule name=""{#FirewallRule}"" dir=in action=allow protocol=TCP localport={code:ListenPort} profile=private,domain program=""{app}\{#AppExeName}"""; Flags: runhidden; StatusMsg: "Adding the firewall rule..."; Check: WantFirewallRule
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall add rule name=""{#FirewallRule}"" dir=in action=allow protocol=TCP localport={code:ListenPort} profile=private,domain program=""{app}\{#CliExeName}"""; Flags: runhidden; Check: WantFirewallRule
; The boot task: the old one goes first (an upgrade without the task removes it).
Filename: "{sys}\schtasks.exe"; Parameters: "/Delete /F /TN ""{#BootTask}"""; Flags: runhidden; StatusMsg: "Updating the start-at-boot task..."; Check: IsAdminInstallMode
Filename: "{sys}\schtasks.exe"; Parameters: "/Create /F /TN ""{#BootTask}"" /SC ONSTART /RU SYSTEM /RL HIGHEST /TR ""\""{app}\{#CliExeName}\"" --headless --data-dir \""{localappdata}\{#AppName}\"" --config \""{localappdata}\{#AppName}\config.toml\"""""; Flags: runhidden; StatusMsg: "Adding the start-at-boot task..."; Tasks: startatboot
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent runasoriginaluser

[UninstallRun]
; Same condition as adding it: a per-user install never had the rights to add one.
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall delete rule name=""{#FirewallRule}"""; Flags: runhidden; RunOnceId: "DeleteFirewallRule"; Check: IsAdminInstallMode
Filename: "{sys}\schtasks.exe"; Parameters: "/Delete /F /TN ""{#BootTask}"""; Flags: runhidden; RunOnceId: "DeleteBootTask"; Check: IsAdminInstallMode

[Code]
var
  AddressPage: TInputOptionWizardPage;
  PortPage: TInputQueryWizardPage;

const
  DefaultPort = '8080';

// Before the AppMutex check: ask a running gsmbridge of an earlier install to quit
// cleanly (gsmbridge-cli stop: the SMS in flight finished, the tunnel ended), so a
// silent upgrade does not stall on "close the application".  Best effort: if it is
// still running, the AppMutex question and the Restart Manager follow as before.
function PreviousAppDir: String;
var
  Key: String;
begin
  Key := 'Software\Microsoft\Windows\CurrentVersion\Uninstall\{552F959A-3CD3-46C7-8333-C62007EF81DC}_is1';
  if not RegQueryStringValue(HKCU, Key, 'Inno Setup: App Path', Result) then
    if not RegQueryStringValue(HKLM, Key, 'Inno Setup: App Path', Result) then
      Result := '';
end;

function InitializeSetup: Boolean;
var
  Cli: String;
  ResultCode: Integer;
begin
  Result := True;
  Cli := AddBackslash(PreviousAppDir) + '{#CliExeName}';
  if (PreviousAppDir <> '') and FileExists(Cli) then
    Exec(Cli, 'stop --timeout 30', '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
end;

procedure InitializeWizard;
var
  NetworkCaption: String;
begin
  { Where the webhook listens decides whether a firewall rule makes sense at all:
    on 127.0.0.1 only a local tunnel (cloudflared, ngrok) talks to it. }
  NetworkCaption := 'Other computers on the network too: open the port in Windows Firewall';
  if not IsAdminInstallMode then
    NetworkCaption := NetworkCaption + ' (needs "Install for all users"; otherwise Windows asks on first use)';
  AddressPage := CreateInputOptionPage(wpSelectTasks,
    'Webhook address', 'Who sends notifications to gsmbridge?',
    'CometChat must reach gsmbridge''s webhook. Most set-ups use a tunnel on this computer '
    + 'and keep the webhook private. Set the same address later in gsmbridge''s Settings; '
    + 'a network address also needs a webhook password (gsmbridge set-password).',
    True, False);
  AddressPage.Add('Only this computer (127.0.0.1, with a tunnel) - recommended');
  AddressPage.Add(NetworkCaption);
  if GetPreviousData('ListenScope', 'local') = 'network' then
    AddressPage.SelectedValueIndex := 1
  else
    AddressPage.SelectedValueIndex := 0;

  PortPage := CreateInputQueryPage(AddressPage.ID,
    'Webhook port', 'Which TCP port will gsmbridge listen on?',
    'The firewall rule allows this port, for gsmbridge only, on private and domain networks.');
  PortPage.Add('&Port:', False);
  PortPage.Values[0] := GetPreviousData('ListenPort', DefaultPort);
end;

function ListensOnNetwork: Boolean;
begin
  Result := AddressPage.SelectedValueIndex = 1;
end;

function WantFirewallRule: Boolean;
begin
  Result := IsAdminInstallMode and ListensOnNetwork;
end;

function ListenPort(Param: String): String;
begin
  Result := Trim(PortPage.Values[0]);
end;

function ShouldSkipPage(PageID: Integer): Boolean;
begin
  Result := (PageID = PortPage.ID) and not ListensOnNetwork;
end;

function NextButtonClick(CurPageID: Integer): Boolean;
var
  Port: Integer;
begin
  Result := True;
  if CurPageID = PortPage.ID then
  begin
    Port := StrToIntDef(ListenPort(''), 0);
    if (Port < 1) or (Port > 65535) then
    begin
      MsgBox('Enter a port number from 1 to 65535.', mbError, MB_OK);
      Result := False;
    end;
  end;
end;

procedure RegisterPreviousData(PreviousDataKey: Integer);
begin
  if ListensOnNetwork then
    SetPreviousData(PreviousDataKey, 'ListenScope', 'network')
  else
    SetPreviousData(PreviousDataKey, 'ListenScope', 'local');
  SetPreviousData(PreviousDataKey, 'ListenPort', ListenPort(''));
end;

procedure RemoveStartAtLogin;
var
  Command: String;
begin
  { The app may have set the value itself (Settings > Start at login) even though the
    task was not chosen: remove it if it points into this installation. }
  if RegQueryStringValue(HKCU, '{#RunKey}', '{#RunValue}', Command) then
    if Pos(Uppercase(ExpandConstant('{app}')), Uppercase(Command)) > 0 then
      RegDeleteValue(HKCU, '{#RunKey}', '{#RunValue}');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usUninstall then
    RemoveStartAtLogin;
  if CurUninstallStep = usPostUninstall then
  begin
    { platformdirs puts both config.toml and the data (queue database, logs) here.
      Kept by default: reinstalling then picks up the same settings and queue. A silent
      uninstall never deletes them. In an all-users install this is the folder of the
      user running the uninstaller; other users' folders are left alone. }
    DataDir := ExpandConstant('{localappdata}\{#AppName}');
    if DirExists(DataDir) and not UninstallSilent then
      if MsgBox('Also delete gsmbridge''s settings, message queue and logs?' + #13#10#13#10
        + DataDir + #13#10#13#10
        + 'Choose No to keep them for a later installation.',
        mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
  end;
end;
