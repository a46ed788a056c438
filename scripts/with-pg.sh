#!/usr/bin/env bash
# Runs a command (the test suite) with FASTGPU_TEST_PG pointing at a real PostgreSQL: the one
# already named by FASTGPU_TEST_PG (CI starts one), or else a throwaway cluster started here
# with pg-up.sh and stopped when the command ends. Without a PostgreSQL server installed it
# fails, naming the package, rather than letting the Postgres store tests pass unrun.
#   scripts/with-pg.sh npx vitest run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${FASTGPU_TEST_PG:-}" ]; then exec "$@"; fi

export PG_ROOT
PG_ROOT=$(mktemp -d /tmp/fastgpu-pg.XXXXXX)
# A free loopback port, asked of the kernel.
export PG_PORT
PG_PORT=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
trap '"$here/pg-down.sh"' EXIT
set +e
url=$("$here/pg-up.sh")
rc=$?
set -e
if [ $rc = 3 ]; then
  echo "with-pg: the test suite runs the Postgres store tests on a real PostgreSQL, and none is installed." >&2
  echo "with-pg: install the package \`postgresql\` (Debian/Ubuntu: sudo apt-get install postgresql), or set FASTGPU_TEST_PG=postgres://… to a server you run." >&2
  exit 1
elif [ $rc != 0 ]; then
  echo "with-pg: could not start PostgreSQL (scripts/pg-up.sh exited $rc)" >&2
  exit 1
fi
export FASTGPU_TEST_PG=$url
echo "with-pg: PostgreSQL for the tests at $url" >&2
"$@"
