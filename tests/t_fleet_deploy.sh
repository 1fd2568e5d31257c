#!/bin/sh
# The Kubernetes manifests of a vapd fleet (deploy/k8s), checked offline: kustomize renders
# them; the Deployment asks for a GPU and probes /healthz and /readyz on the port the node's
# config listens on; etcd is a 3-member StatefulSet behind a headless Service whose initial
# cluster names every member; the nodes' etcd URL is that Service; and the node config in
# the ConfigMap passes `vapd --check` with a pod's name in POD_NAME.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }

# kubectl is not a Debian package: without it the files listed in kustomization.yaml are
# read as they are (the same documents kustomize would emit, in another key order).
if command -v kubectl >/dev/null 2>&1; then
	how="kubectl kustomize"
	kubectl kustomize deploy/k8s >"$tmp/all.yaml" 2>"$tmp/kustomize.err"; rc=$?
else
	how="the kustomization's files (no kubectl)"
	rc=0
	for f in $(sed -n 's/^  - \(.*\.yaml\)$/\1/p' deploy/k8s/kustomization.yaml); do
		cat "deploy/k8s/$f" || rc=1; echo "---"
	done >"$tmp/all.yaml"
fi
check "deploy/k8s renders through $how (exit $rc)" '[ $rc = 0 ] && [ -s "$tmp/all.yaml" ]'

cat >"$tmp/lint.py" <<'PY'
import re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
out = open(sys.argv[2], "w")
def need(cond, what):
    if not cond:
        print(f"# {what}"); sys.exit(1)
dep = by[("Deployment", "vapd")]
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
node = yaml.safe_load(by[("ConfigMap", "vapd-fleet")]["data"]["node.yaml"])
port = int(node["http"]["listen"].rsplit(":", 1)[1])
names = {p["name"]: p["containerPort"] for p in c["ports"]}
need(c["resources"]["limits"].get("nvidia.com/gpu") == 1, "one GPU per node")
need(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz",
     "probes on /healthz and /readyz")
for p in ("livenessProbe", "readinessProbe", "startupProbe"):
    need(names.get(c[p]["httpGet"]["port"]) == port, f"{p} on the port http.listen uses ({port})")
need(pod["terminationGracePeriodSeconds"] >= 30, "time to drain on SIGTERM")
need(any(e["name"] == "POD_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" for e in c["env"]),
     "POD_NAME from the pod's name")
need(node["fleet"]["node_id"] == "${POD_NAME}", "node_id is the pod's name")
need(c["args"] == ["-c", "/etc/vapd/node.yaml"] and any(m["mountPath"] == "/etc/vapd" for m in c["volumeMounts"]),
     "the ConfigMap is the node's config")
sts = by[("StatefulSet", "vapd-etcd")]
peers = by[("Service", "vapd-etcd-peers")]
client = by[("Service", "vapd-etcd")]
need(peers["spec"]["clusterIP"] == "None" and sts["spec"]["serviceName"] == "vapd-etcd-peers", "headless peers Service")
args = " ".join(sts["spec"]["template"]["spec"]["containers"][0]["command"])
members = re.search(r"--initial-cluster=(\S+)", args).group(1).split(",")
need(len(members) == sts["spec"]["replicas"] == 3, "3 members, all in the initial cluster")
need(all(m.startswith(f"vapd-etcd-{i}=http://vapd-etcd-{i}.vapd-etcd-peers:2380") for i, m in enumerate(members)),
     "member names and peer URLs match the StatefulSet's pods")
need(node["fleet"]["etcd"] == [f"http://{client['metadata']['name']}:{client['spec']['ports'][0]['port']}"],
     "the nodes reach etcd through its client Service")
need(client["spec"]["selector"] == sts["spec"]["template"]["metadata"]["labels"], "the Service selects the etcd pods")
out.write(by[("ConfigMap", "vapd-fleet")]["data"]["node.yaml"])
print("ok")
PY
r=$($PY "$tmp/lint.py" "$tmp/all.yaml" "$tmp/node.yaml" 2>&1)
check "manifests: GPU, probes on the listen port, POD_NAME as node_id, 3-member etcd behind its Services ($r)" \
	'[ "$r" = ok ]'

# The models the pods mount at /models are the shared ones here.
sed "s|/models/|$SHARED/models/|g" "$tmp/node.yaml" >"$tmp/node-here.yaml"
POD_NAME=vapd-6f7d9c5b8-x2k4q "$VAPD" --check -c "$tmp/node-here.yaml" >"$tmp/check.out" 2>&1; rc=$?
check "the ConfigMap's node config passes vapd --check (exit $rc: $(head -c 200 "$tmp/check.out"))" '[ $rc = 0 ]'

echo "# $n checks, $fails failed"
[ $fails -eq 0 ]
