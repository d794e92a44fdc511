#!/usr/bin/env bash
# Installs the system packages Sluice's sandbox, tests and benchmarks need, when they are missing.
# Debian/Ubuntu only. As root it uses apt directly; otherwise it tells you what to run.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-install-db >/dev/null 2>&1 || [ -x /usr/bin/mariadb-install-db ] || need+=(mariadb-server)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Connector/C test client (test/clients/stmt_client.c, compiled by test/integration/connector-c.test.ts)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v mariadb_config >/dev/null 2>&1 || [ -f /usr/include/mariadb/mysql.h ] || need+=(libmariadb-dev)
# Headless browser for the dashboard test (test/integration/dashboard.test.ts, driven by playwright-core)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "sluice: missing system packages: ${need[*]}" >&2
  echo "sluice: run as root:  apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "sluice: missing system packages (${need[*]}) and no apt-get here; install them by hand" >&2
  exit 1
fi

echo "sluice: installing ${need[*]} (apt)…" >&2
# Keep Debian's maintainer scripts from starting a system-wide mariadb/haproxy: the project starts its own
# servers on free ports, and a service on 3306 would only get in the way.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "sluice: system packages ready" >&2
