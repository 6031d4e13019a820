#!/usr/bin/env bash
# The set-up `npm test` does first, so that the README's test command passes on a fresh Debian 12
# machine (and .ci/run is nothing but that command). It installs only what is missing, and says
# what:
#   1. mesa-vulkan-drivers from bookworm-backports (Mesa 25's lavapipe): the software Vulkan
#      driver every WebGPU test runs on where there is no GPU (Debian 12's own Mesa 22 is too old
#      for Dawn's Vulkan backend);
#   2. chromium: the teaching page's end-to-end test drives it headless;
#   3. Debian 12's own Mesa 22.3 OpenGL drivers, downloaded and unpacked into .cache/mesa-bookworm,
#      never installed: the test that fusegrad refuses that driver (llvmpipe there stops shader
#      loops after 65535 iterations) runs against them, plus the few libraries they load;
#   4. the npm packages (npm ci), when node_modules is missing; Deno comes from npm.
# Packages need root: run as root, or with sudo. --dry-run prints the plan and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
CACHE="${FUSEGRAD_CACHE:-.cache}"
MESA22="$CACHE/mesa-bookworm"
MESA22_PACKAGES=(libgl1-mesa-dri libegl-mesa0 libgbm1 libglapi-mesa)

say() { echo "setup: $*"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "setup: needs root to run: $*" >&2
    echo "setup: run it as root (or with sudo), then npm test again" >&2
    exit 1
  fi
}
run() { if [ "$DRY" = 1 ]; then say "would run: $*"; else "$@"; fi; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  say "not a Debian system: install a WebGPU driver (a GPU's Vulkan driver, or Mesa's lavapipe 23 or later) and chromium yourself;"
  say "the test of Debian 12's Mesa 22 driver needs Debian 12's packages and will fail here"
  [ -d node_modules ] || run npm ci --no-audit --no-fund
  exit 0
fi

updated=0
apt_update() { if [ "$updated" = 0 ]; then run as_root apt-get update -qq; updated=1; fi; }
apt_install() { run as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; }

# 1. lavapipe from bookworm-backports.
case "$(version mesa-vulkan-drivers)" in
  2[5-9].*|[3-9][0-9].*) ;;
  *)
    say "installing mesa-vulkan-drivers (Mesa's software Vulkan driver, lavapipe) from bookworm-backports"
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      say "adding the bookworm-backports suite: /etc/apt/sources.list.d/fusegrad-backports.sources"
      if [ "$DRY" = 0 ]; then
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
          as_root tee /etc/apt/sources.list.d/fusegrad-backports.sources >/dev/null
      fi
    fi
    apt_update
    apt_install -t bookworm-backports mesa-vulkan-drivers
    ;;
esac

# 2. Chromium for the page's test.
if ! installed chromium; then
  say "installing chromium (Debian's, for the teaching page's headless test)"
  apt_update
  apt_install chromium
fi

# 3. Debian 12's Mesa 22.3 OpenGL ES drivers, unpacked, not installed.
if [ ! -e "$MESA22/root/usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0" ]; then
  say "downloading Debian 12's own Mesa 22.3 OpenGL drivers (${MESA22_PACKAGES[*]}) into $MESA22, unpacked, not installed"
  if [ "$DRY" = 0 ]; then
    tmp="$(mktemp -d)"
    # pkg/bookworm: the stable suite's build, whatever the backports installed.
    if ! (cd "$tmp" && apt-get download -qq "${MESA22_PACKAGES[@]/%//bookworm}" 2>/dev/null); then
      apt_update
      (cd "$tmp" && apt-get download -qq "${MESA22_PACKAGES[@]/%//bookworm}")
    fi
    rm -rf "$MESA22"
    mkdir -p "$MESA22"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$MESA22/root"; dpkg-deb -f "$deb" Depends >>"$tmp/depends"; done
    # The libraries they load that the machine lacks (never the Mesa packages themselves), and
    # libglvnd's libEGL, which Dawn opens.
    missing=()
    for dep in libegl1 $(tr ',' '\n' <"$tmp/depends" | sed -e 's/(.*)//' -e 's/|.*//' -e 's/ //g' | sort -u); do
      case " ${MESA22_PACKAGES[*]} " in *" $dep "*) continue ;; esac
      installed "$dep" || missing+=("$dep")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
      say "installing what those drivers load: ${missing[*]}"
      apt_update
      apt_install "${missing[@]}"
    fi
    rm -rf "$tmp"
  fi
fi

# 4. npm packages.
if [ ! -d node_modules ]; then
  say "installing the npm packages (npm ci)"
  run npm ci --no-audit --no-fund
fi
