#!/usr/bin/env bash
# The whole test suite of unyo, on a fresh Debian machine as on a developer's.
#
# The tests use real programs and services, never mocks, and fail (never skip) without them:
#   PostgreSQL   reachable at UNYO_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test)
#   acl          setfacl, getfacl: the HR-transfer tests change real folder ACLs
#   chromium     headless Chromium prints the HTML report to PDF (tests/report_pdf.rs) and
#                is driven through the dashboard (tests/web.rs)
#   nodejs, npm  run playwright-core (tests/web/package.json, installed here with `npm ci`),
#                which drives that chromium: no browser is downloaded
#   fonts-noto-cjk  a Japanese font, without which Japanese prints as empty boxes
#   poppler-utils   pdfinfo, pdftotext: the PDF tests read what was printed
#   openssh-server  sshd: the remote-step tests (tests/ssh.rs) start one on loopback
#   monitoring-plugins  check_http, check_tcp, check_log ...: the health-check tests
#   prometheus   prometheus, promtool: the metrics tests scrape and lint /metrics
#   faketime     libfaketime: a node whose clock is 5 s off (tests/nodes.rs)
# Run as root, this script installs what is missing (Debian packages) and starts PostgreSQL
# when it is down; run as another user, it prints the one line to run as root and exits 1.
# Arguments are passed to `cargo test` (e.g. `./test.sh --test main report::`).
set -euo pipefail
cd "$(dirname "$0")"

export UNYO_TEST_PG_URL="${UNYO_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have psql || missing+=(postgresql-client)
have setfacl && have getfacl || missing+=(acl)
have chromium || missing+=(chromium)
have node && have npm || missing+=(nodejs npm)
fc-list ':lang=ja' family 2>/dev/null | grep -q 'Noto Sans CJK JP' || missing+=(fonts-noto-cjk)
have pdfinfo && have pdftotext || missing+=(poppler-utils)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/lib/nagios/plugins/check_http ] && [ -x /usr/lib/nagios/plugins/check_tcp ] \
    || missing+=(monitoring-plugins)
have prometheus && have promtool || missing+=(prometheus)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || missing+=(faketime)
# A machine without a PostgreSQL server gets Debian's, with trust for local connections.
pg_server_missing=0
if ! have pg_ctlcluster || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    case "$UNYO_TEST_PG_URL" in
        *@127.0.0.1:*|*@localhost:*|*@127.0.0.1/*|*@localhost/*) pg_server_missing=1; missing+=(postgresql) ;;
    esac
fi

as_root() { [ "$(id -u)" = 0 ]; }

if [ ${#missing[@]} -gt 0 ]; then
    if ! as_root; then
        echo "test.sh: the tests need Debian packages that are missing; as root run:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "test.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ "$pg_server_missing" = 1 ]; then
        version=$(ls /etc/postgresql | sort -V | tail -1)
        hba=/etc/postgresql/$version/main/pg_hba.conf
        # Test databases only: trust on loopback, as on the machines this project is built on.
        sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
        pg_ctlcluster --skip-systemctl-redirect "$version" main restart
        su postgres -c "psql -qtAc \"select 1 from pg_database where datname = 'test'\"" | grep -q 1 \
            || su postgres -c "createdb test"
    fi
fi

# PostgreSQL must be reachable: start the local cluster when it is down, fail when it stays so.
pg_up() { psql "$UNYO_TEST_PG_URL" -v ON_ERROR_STOP=1 -qtAc 'select 1' >/dev/null 2>&1; }
if ! pg_up && have pg_ctlcluster && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    if as_root; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
        for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    else
        echo "test.sh: PostgreSQL is down; as root run:" >&2
        echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
        exit 1
    fi
fi
if ! pg_up; then
    echo "test.sh: PostgreSQL is not reachable at $UNYO_TEST_PG_URL" >&2
    psql "$UNYO_TEST_PG_URL" -qtAc 'select 1' >&2 || true
    exit 1
fi

# The dashboard's browser test drives chromium with playwright-core, pinned by
# tests/web/package-lock.json (npm's cache first).
if [ ! -e tests/web/node_modules/playwright-core/package.json ]; then
    (cd tests/web && npm ci --prefer-offline --no-audit --no-fund)
fi

exec cargo test --locked "$@"
