#!/usr/bin/env bash
# Vendors Swagger UI (the interactive API docs page at /api/v1/docs) from the npm package
# swagger-ui-dist, so the docs page needs no CDN at run time. Re-run after changing the version.
#   bash scripts/vendor-swagger.sh
set -euo pipefail
VERSION=${SWAGGER_UI_VERSION:-5.35.0}
cd "$(dirname "$0")/.."
DEST=src/kefu/api/static/api/swagger-ui
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "swagger-ui-dist@${VERSION}" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
mkdir -p "$DEST"
for f in swagger-ui.css swagger-ui-bundle.js LICENSE; do
  cp "$TMP/package/$f" "$DEST/$f"
done
echo "swagger-ui-dist ${VERSION}" > "$DEST/VERSION"
echo "vendored swagger-ui-dist ${VERSION} into ${DEST}"
