#!/usr/bin/env bash
# Install the Debian packages Wangge needs, only when they are missing, so that a second
# `make run`/`make test` costs nothing. Usage: scripts/ensure-system.sh [postgis] [browser] [gdal]
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

pg_major() {
  # The newest PostgreSQL whose server binaries are installed, if any.
  ls -1 /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
}

for what in "$@"; do
  case "$what" in
    postgis)
      major=$(pg_major)
      if [ -z "$major" ] || [ ! -x "/usr/lib/postgresql/$major/bin/initdb" ]; then
        need+=(postgresql postgresql-contrib postgis)
        # Debian's meta package 'postgis' pulls the server's matching postgresql-N-postgis-3.
      elif [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
        need+=("postgresql-$major-postgis-3")
      fi
      ;;
    browser)
      have_pkg chromium || need+=(chromium)
      have_pkg fonts-noto-cjk || need+=(fonts-noto-cjk)
      ;;
    gdal)
      command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
      ;;
    venv)
      python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv python3-pip)
      ;;
    *) echo "ensure-system: unknown component '$what' (known: postgis browser gdal venv)" >&2; exit 2 ;;
  esac
done

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Wangge needs these Debian packages: ${need[*]}" >&2
  echo "Install them as root:  apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# A stale or empty package list makes apt-get refuse to find packages: refresh it first.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's postgresql package starts a cluster of its own on 5432; Wangge does not use it.
echo "Installed: ${need[*]}"
