#!/bin/sh
# Register the VGS secrets engine plugin with OpenBao or Vault and enable it at a path.
#
#   infra/vault/register.sh PLUGIN_FILE [MOUNT_PATH] [PLUGIN_NAME]
#
# PLUGIN_FILE must sit directly in the server's plugin_directory (build it there with
# `python -m vault_plugin build <plugin_directory>`). Uses `bao` if present, else `vault`
# (override with CLI=...); the usual BAO_ADDR/BAO_TOKEN or VAULT_ADDR/VAULT_TOKEN apply.
set -eu

PLUGIN_FILE="${1:?usage: register.sh PLUGIN_FILE [MOUNT_PATH] [PLUGIN_NAME]}"
MOUNT_PATH="${2:-vgs}"
PLUGIN_NAME="${3:-vgs}"

if [ -z "${CLI:-}" ]; then
  if command -v bao >/dev/null 2>&1; then CLI=bao; elif command -v vault >/dev/null 2>&1; then CLI=vault; else
    echo "register.sh: neither bao nor vault is on PATH (set CLI=/path/to/bao)" >&2; exit 1
  fi
fi
[ -f "$PLUGIN_FILE" ] || { echo "register.sh: $PLUGIN_FILE not found" >&2; exit 1; }

if command -v sha256sum >/dev/null 2>&1; then
  SHA256=$(sha256sum "$PLUGIN_FILE" | cut -d' ' -f1)
else
  SHA256=$(shasum -a 256 "$PLUGIN_FILE" | cut -d' ' -f1)
fi
# The plugin reports its version; register under that version so the host picks this build.
VERSION="${PLUGIN_VERSION:-$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$(dirname "$0")/../../vault_plugin/__init__.py")}"
COMMAND=$(basename "$PLUGIN_FILE")

"$CLI" plugin register -sha256="$SHA256" -command="$COMMAND" -version="$VERSION" secret "$PLUGIN_NAME"
if "$CLI" secrets list -format=json | grep -q "\"$MOUNT_PATH/\""; then
  "$CLI" secrets tune -plugin-version="$VERSION" "$MOUNT_PATH"
  "$CLI" plugin reload -plugin="$PLUGIN_NAME"
else
  "$CLI" secrets enable -path="$MOUNT_PATH" -plugin-version="$VERSION" "$PLUGIN_NAME"
fi
echo "registered $PLUGIN_NAME $VERSION ($SHA256) at $MOUNT_PATH/"
