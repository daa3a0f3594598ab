#!/usr/bin/env bash
# Install the gsmbridge Linux bundle (the folder this script is in) for this user, or
# system-wide with --system. Copied into dist/gsmbridge/ by installer/gsmbridge.spec.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: ./install.sh [options]
  (no option)       install for this user: ~/.local/opt/gsmbridge, ~/.local/bin/gsmbridge
                    and gsmbridge-cli, a menu entry and icons in ~/.local/share
  --autostart       also start the desktop app at login (~/.config/autostart)
  --user-service    also install the systemd user unit (headless; enable it yourself)
  --system          install for everyone instead (as root): /opt/gsmbridge, /usr/local
  --system-service  with --system: user "gsmbridge", /etc/gsmbridge, the system unit
  --uninstall       remove what an earlier run installed (settings and data are kept)
  --root DIR        install under DIR (packaging, tests): no systemctl, no new users
EOF
}

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SYSTEM=0 AUTOSTART=0 USER_SERVICE=0 SYSTEM_SERVICE=0 UNINSTALL=0 ROOT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --system) SYSTEM=1 ;;
        --autostart) AUTOSTART=1 ;;
        --user-service) USER_SERVICE=1 ;;
        --system-service) SYSTEM_SERVICE=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --root) ROOT="${2:?--root needs a directory}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [ "$SYSTEM_SERVICE" = 1 ] && [ "$SYSTEM" = 0 ]; then
    echo "install.sh: --system-service needs --system" >&2; exit 2
fi
if [ "$SYSTEM" = 1 ] && [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: --system needs root (sudo ./install.sh --system ...)" >&2; exit 2
fi

if [ "$SYSTEM" = 1 ]; then
    APP_DIR=/opt/gsmbridge
    BIN_DIR=/usr/local/bin
    SHARE=/usr/local/share
    AUTOSTART_DIR=/etc/xdg/autostart
    UNIT_DIR=/etc/systemd/system
else
    DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
    CONFIG_HOME="${XDG_CONFIG_HOME:-$HOME/.config}"
    APP_DIR="$HOME/.local/opt/gsmbridge"
    BIN_DIR="$HOME/.local/bin"
    SHARE="$DATA_HOME"
    AUTOSTART_DIR="$CONFIG_HOME/autostart"
    UNIT_DIR="$CONFIG_HOME/systemd/user"
fi
MANIFEST="$ROOT$APP_DIR/.installed-files"   # what lives outside APP_DIR, for --uninstall

# Run systemctl (or another system command) only on the real system.
live() { [ -z "$ROOT" ] && command -v "$1" >/dev/null 2>&1; }
systemctl_() {
    if [ "$SYSTEM" = 1 ]; then live systemctl && systemctl "$@"
    else live systemctl && systemctl --user "$@"; fi
}

refresh_caches() {
    if live update-desktop-database; then update-desktop-database -q "$SHARE/applications" || true; fi
    if live gtk-update-icon-cache; then gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true; fi
}

uninstall() {
    if [ -f "$MANIFEST" ]; then
        if grep -q '/systemd/' "$MANIFEST"; then
            systemctl_ disable --now gsmbridge.service >/dev/null 2>&1 || true
        fi
        while IFS= read -r path; do
            rm -f -- "$ROOT$path"
        done <"$MANIFEST"
        systemctl_ daemon-reload >/dev/null 2>&1 || true
        refresh_caches
    fi
    if [ -x "$ROOT$APP_DIR/gsmbridge-cli" ]; then
        rm -rf -- "$ROOT${APP_DIR:?}"
    fi
    echo "Removed gsmbridge from $APP_DIR."
    if [ "$SYSTEM" = 1 ]; then
        echo "Kept: /etc/gsmbridge, /var/lib/gsmbridge and the user gsmbridge" \
            "(sudo userdel gsmbridge; sudo rm -r /etc/gsmbridge /var/lib/gsmbridge)."
    else
        echo "Kept your settings and queue: ${XDG_CONFIG_HOME:-~/.config}/gsmbridge and" \
            "${XDG_DATA_HOME:-~/.local/share}/gsmbridge (delete them to remove everything)."
    fi
}

if [ "$UNINSTALL" = 1 ]; then
    uninstall
    exit 0
fi

[ -x "$SRC/gsmbridge-cli" ] || { echo "install.sh: no gsmbridge-cli next to me" >&2; exit 1; }

# Desktop entries want a quoted absolute path; systemd takes the same form. sub() makes
# that a sed replacement (escaping & and the | delimiter).
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"`$]/\\&/g')"; }
sub() { quote "$1" | sed 's/[&|\\]/\\&/g'; }
# An upgrade keeps what earlier runs installed on the list, so --uninstall removes it all.
installed=()
if [ -f "$MANIFEST" ]; then mapfile -t installed <"$MANIFEST"; fi
put() {  # put SOURCE DEST [MODE]: copy a file outside APP_DIR and remember it
    install -D -m "${3:-0644}" "$1" "$ROOT$2"
    installed+=("$2")
}

# 1. The bundle itself: copy beside the old one, then swap, so a failed copy breaks nothing.
if [ "$SRC" != "$ROOT$APP_DIR" ]; then
    mkdir -p "$(dirname "$ROOT$APP_DIR")"
    rm -rf -- "$ROOT$APP_DIR.new"
    cp -a "$SRC" "$ROOT$APP_DIR.new"
    rm -rf -- "$ROOT${APP_DIR:?}"
    mv "$ROOT$APP_DIR.new" "$ROOT$APP_DIR"
fi
SHARE_SRC="$ROOT$APP_DIR/share"

mkdir -p "$ROOT$BIN_DIR"
for exe in gsmbridge gsmbridge-cli; do
    ln -sfn "$APP_DIR/$exe" "$ROOT$BIN_DIR/$exe"
    installed+=("$BIN_DIR/$exe")
done

# 2. Menu entry and icons.
tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT
sed "s|^Exec=gsmbridge\(.*\)\$|Exec=$(sub "$APP_DIR/gsmbridge")\1|" \
    "$SHARE_SRC/gsmbridge.desktop" >"$tmp/gsmbridge.desktop"
put "$tmp/gsmbridge.desktop" "$SHARE/applications/gsmbridge.desktop"
for png in "$SHARE_SRC"/icons/hicolor/*/apps/gsmbridge.png; do
    size="$(basename "$(dirname "$(dirname "$png")")")"
    put "$png" "$SHARE/icons/hicolor/$size/apps/gsmbridge.png"
done
put "$SHARE_SRC/gsmbridge.svg" "$SHARE/icons/hicolor/scalable/apps/gsmbridge.svg"

# 3. Optional: start at login (the same file the app's own setting writes).
if [ "$AUTOSTART" = 1 ]; then
    sed "s|^Exec=gsmbridge\(.*\)\$|Exec=$(sub "$APP_DIR/gsmbridge")\1|" \
        "$SHARE_SRC/gsmbridge-autostart.desktop" >"$tmp/autostart.desktop"
    put "$tmp/autostart.desktop" "$AUTOSTART_DIR/gsmbridge.desktop"
fi

# 4. Optional: systemd units.
unit_exec() { sed "s|^ExecStart=[^ ]*|ExecStart=$(sub "$APP_DIR/gsmbridge-cli")|" "$1"; }
if [ "$USER_SERVICE" = 1 ] && [ "$SYSTEM" = 0 ]; then
    unit_exec "$SHARE_SRC/systemd/user/gsmbridge.service" >"$tmp/gsmbridge.service"
    put "$tmp/gsmbridge.service" "$UNIT_DIR/gsmbridge.service"
fi
if [ "$SYSTEM_SERVICE" = 1 ]; then
    put "$SHARE_SRC/systemd/gsmbridge.sysusers" /etc/sysusers.d/gsmbridge.conf
    if live systemd-sysusers; then
        systemd-sysusers /etc/sysusers.d/gsmbridge.conf
    elif [ -z "$ROOT" ] && ! id gsmbridge >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/gsmbridge --shell /usr/sbin/nologin \
            --groups dialout gsmbridge
    fi
    unit_exec "$SHARE_SRC/systemd/system/gsmbridge.service" >"$tmp/gsmbridge.service"
    put "$tmp/gsmbridge.service" "$UNIT_DIR/gsmbridge.service"
    # Settings readable by the service's group; secrets readable by root only (systemd
    # reads EnvironmentFile= before it drops privileges). Never overwrite existing ones.
    mkdir -p "$ROOT/etc/gsmbridge"
    if [ ! -e "$ROOT/etc/gsmbridge/config.toml" ]; then
        printf '# gsmbridge settings; see %s/gsmbridge.example.toml\n' "$APP_DIR" \
            >"$ROOT/etc/gsmbridge/config.toml"
        chmod 0640 "$ROOT/etc/gsmbridge/config.toml"
        [ -n "$ROOT" ] || chgrp gsmbridge /etc/gsmbridge/config.toml
    fi
    if [ ! -e "$ROOT/etc/gsmbridge/gsmbridge.env" ]; then
        (umask 077 && printf '%s\n' "# Read by systemd as root; not by gsmbridge's user." \
            "#GSMBRIDGE_AUTH_USERNAME=cometchat" "#GSMBRIDGE_AUTH_PASSWORD=" \
            "#GSMBRIDGE_MODEM_PORT=/dev/gsm-modem" >"$ROOT/etc/gsmbridge/gsmbridge.env")
    fi
fi

printf '%s\n' "${installed[@]}" | sort -u >"$MANIFEST"
refresh_caches
if [ "$USER_SERVICE" = 1 ] || [ "$SYSTEM_SERVICE" = 1 ]; then systemctl_ daemon-reload || true; fi
# An upgrade replaced the files under a running service: let it run the new ones.
if systemctl_ is-active --quiet gsmbridge.service 2>/dev/null; then
    systemctl_ restart gsmbridge.service && echo "Restarted the gsmbridge service."
fi

echo "Installed gsmbridge in $APP_DIR; run gsmbridge (desktop) or gsmbridge-cli (console)."
case ":$PATH:" in *":$BIN_DIR:"*) ;; *) echo "Note: $BIN_DIR is not on your PATH." ;; esac
if [ "$USER_SERVICE" = 1 ] && [ "$SYSTEM" = 0 ]; then
    echo "User service: systemctl --user enable --now gsmbridge" \
        "(and loginctl enable-linger ${USER:-$(id -un)} to keep it running after logout)"
fi
if [ "$SYSTEM_SERVICE" = 1 ]; then
    echo "System service: put credentials in /etc/gsmbridge/gsmbridge.env, settings in" \
        "/etc/gsmbridge/config.toml, then: systemctl enable --now gsmbridge"
fi
if [ "$SYSTEM" = 0 ] && ! id -nG | tr ' ' '\n' | grep -qx dialout; then
    echo "Note: you are not in group dialout, so serial ports will be refused:" \
        "sudo usermod -aG dialout ${USER:-$(id -un)}, then log out and in again."
fi
