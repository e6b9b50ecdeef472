#!/usr/bin/env bash
# End-to-end smoke test of lambda-ingress on a kind cluster (needs a Docker
# engine, kind, kubectl and curl). Builds the image from ./Dockerfile, deploys
# crds/ and deploy/, runs the AWS emulator in the cluster from the same image,
# routes /smoke to it with a LambdaRoute signed with the emulator's test keys
# and curls it through the lambda-ingress Service (kubectl port-forward).
#
#   KEEP=1                keep the cluster afterwards (default: kind delete cluster)
#   KIND_CLUSTER_NAME     default lambda-ingress-e2e (reused if it already exists)
#   KIND_NODE_IMAGE       e.g. kindest/node:v1.34.0 (default: kind's default)
#   IMAGE                 default lambda-ingress:e2e
#   TEST_NS               namespace of the emulator and the route (default lambda-ingress-e2e)
#   E2E_FUNCTION          function name the emulator serves (default hello)
#   TIMEOUT               rollout/wait timeout (default 180s)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

CLUSTER=${KIND_CLUSTER_NAME:-lambda-ingress-e2e}
IMAGE=${IMAGE:-lambda-ingress:e2e}
NS=lambda-ingress
TEST_NS=${TEST_NS:-lambda-ingress-e2e}
E2E_FUNCTION=${E2E_FUNCTION:-hello}
TIMEOUT=${TIMEOUT:-180s}
KEEP=${KEEP:-0}
# The emulator's fixed test credentials (AWS SigV4 test-suite keys); not secrets.
ACCESS_KEY_ID=AKIDEXAMPLE
SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'kind.sh: %s\n' "$*" >&2; exit 1; }

for cmd in docker kind kubectl curl; do
  command -v "$cmd" >/dev/null || die "$cmd not found on PATH"
done
docker info >/dev/null 2>&1 || die "no Docker engine reachable (docker info failed)"
[[ -f Dockerfile ]] || die "no Dockerfile at the repository root"

WORK=$(mktemp -d)
# A private kubeconfig: never touch the user's ~/.kube/config or current context.
export KUBECONFIG="$WORK/kubeconfig"
PF_PID=""

diagnostics() {
  log "diagnostics"
  kubectl get nodes,pods,svc -A -o wide || true
  kubectl get lambdaroutes -A -o yaml || true
  kubectl -n "$NS" describe deployment/lambda-ingress || true
  kubectl -n "$NS" logs deployment/lambda-ingress --all-containers --tail=200 || true
  kubectl -n "$TEST_NS" logs deployment/aws-emulator --tail=100 || true
  [[ -f $WORK/port-forward.log ]] && cat "$WORK/port-forward.log"
}

cleanup() {
  local rc=$?
  if [[ -n $PF_PID ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  if ((rc != 0)); then diagnostics; fi
  if [[ $KEEP == 1 ]]; then
    kind export kubeconfig --name "$CLUSTER" --kubeconfig "$WORK/kubeconfig" >/dev/null 2>&1 || true
    log "KEEP=1: cluster '$CLUSTER' kept; export KUBECONFIG=$WORK/kubeconfig (kind delete cluster --name $CLUSTER)"
  else
    log "deleting kind cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" || true
    rm -rf "$WORK"
  fi
  if ((rc == 0)); then log "PASS"; else log "FAIL (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "reusing kind cluster $CLUSTER"
  kind export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG"
else
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s \
    ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
fi

log "building $IMAGE"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

log "installing CRDs and the controller"
kubectl apply -f crds/
kubectl wait --for=condition=Established crd/lambdaroutes.lambda-ingress.io --timeout=60s
kubectl apply -k deploy/
# Run the image we just loaded, whatever deploy/ names it; never pull it.
kubectl -n "$NS" set image deployment/lambda-ingress "*=$IMAGE"
kubectl -n "$NS" patch deployment/lambda-ingress --type=json \
  -p '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"IfNotPresent"}]'
kubectl -n "$NS" rollout status deployment/lambda-ingress --timeout="$TIMEOUT"

log "deploying the AWS emulator and the smoke route in $TEST_NS"
kubectl apply -f - <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $TEST_NS
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: aws-emulator
  namespace: $TEST_NS
spec:
  replicas: 1
  selector:
    matchLabels: { app: aws-emulator }
  template:
    metadata:
      labels: { app: aws-emulator }
    spec:
      containers:
        - name: emulator
          image: $IMAGE
          imagePullPolicy: IfNotPresent
          args: [emulator, --emulator-port, "9000", --emulator-host, "0.0.0.0"] # reached through its Service
          ports:
            - { name: http, containerPort: 9000 }
          readinessProbe:
            tcpSocket: { port: 9000 }
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: aws-emulator
  namespace: $TEST_NS
spec:
  selector: { app: aws-emulator }
  ports:
    - { name: http, port: 9000, targetPort: 9000 }
---
apiVersion: v1
kind: Secret
metadata:
  name: aws-creds
  namespace: $TEST_NS
type: Opaque
stringData:
  accessKeyId: $ACCESS_KEY_ID
  secretAccessKey: $SECRET_ACCESS_KEY
---
apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata:
  name: smoke
  namespace: $TEST_NS
spec:
  match:
    path: /smoke
    pathType: Exact
  target:
    function:
      name: $E2E_FUNCTION
      region: us-east-1
      endpoint: http://aws-emulator.$TEST_NS.svc.cluster.local:9000
  auth:
    iam:
      secretRef: { name: aws-creds }
      region: us-east-1
      service: lambda
YAML
kubectl -n "$TEST_NS" rollout status deployment/aws-emulator --timeout="$TIMEOUT"
kubectl -n "$TEST_NS" wait lambdaroute/smoke --for=condition=Ready --timeout=60s

log "kubectl get lr"
kubectl -n "$TEST_NS" get lr smoke | tee "$WORK/get-lr.txt"
# Read the READY cell by its column offset in the header (empty cells, e.g.
# URL for a function target, break whitespace splitting).
ready=$(awk 'NR == 1 { col = index($0, "READY") } NR == 2 && col { split(substr($0, col), f, " "); print f[1] }' \
  "$WORK/get-lr.txt")
[[ $ready == True ]] || die "kubectl get lr: READY is '$ready', want True"

log "port-forwarding svc/lambda-ingress:80"
kubectl -n "$NS" port-forward svc/lambda-ingress :80 >"$WORK/port-forward.log" 2>&1 &
PF_PID=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$WORK/port-forward.log" | head -n1)
  [[ -n $port ]] && break
  kill -0 "$PF_PID" 2>/dev/null || die "kubectl port-forward exited: $(cat "$WORK/port-forward.log")"
  sleep 0.1
done
[[ -n $port ]] || die "kubectl port-forward did not report a local port"

log "curl http://127.0.0.1:$port/smoke"
code=""
for _ in $(seq 1 30); do
  code=$(curl -sS -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$port/smoke?name=kind" || true)
  [[ $code == 200 ]] && break
  sleep 1
done
cat "$WORK/body" 2>/dev/null && echo
[[ $code == 200 ]] || die "GET /smoke: HTTP $code, want 200"

code=$(curl -sS -o "$WORK/body404" -w '%{http_code}' "http://127.0.0.1:$port/no-such-route" || true)
[[ $code == 404 ]] || die "GET /no-such-route: HTTP $code, want 404"
grep -q no_route "$WORK/body404" || die "GET /no-such-route: body lacks no_route: $(cat "$WORK/body404")"
