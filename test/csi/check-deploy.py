#!/usr/bin/python3
"""The Kubernetes manifests of deploy/kubernetes/ against the real binaries and each other.

No cluster runs in the tests, so this checks what can be checked without one: every file
parses; pmemd accepts the config of each ConfigMap (pmemd --check-config); pmem-csi starts
with the exact arguments of each pod that runs it and answers with the driver name of the
CSIDriver object, the StorageClasses' provisioner and the registrar's socket path; every
volumeMount names a volume of its pod, every $(VAR) in a container's arguments is an env
of that container, every ServiceAccount a pod or a binding names is defined; the
provisioner runs in node-deployment mode with what that mode needs. One line per check,
'ok - WHAT' or 'not ok - WHAT: DETAIL'; exit 1 when any failed.

Needs python3-yaml, python3-grpcio and the stubs csi-conformance.py generates (--stubs).
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import time

failed = 0


def ok(what):
    print("ok - " + what, flush=True)


def fail(what, detail):
    global failed
    failed += 1
    print("not ok - %s: %s" % (what, " ".join(str(detail).split())[:400]), flush=True)


def check(what, cond, detail="false"):
    (ok if cond else lambda w: fail(w, detail))(what)
    return cond


def pod_specs(docs):
    """(namespace, kind/name, pod spec) of every workload."""
    for f, d in docs:
        if d.get("kind") in ("DaemonSet", "Deployment", "StatefulSet"):
            yield (d["metadata"].get("namespace"), "%s/%s" % (d["kind"], d["metadata"]["name"]),
                   d["spec"]["template"]["spec"])


def container(spec, name):
    for c in spec.get("containers", []):
        if c["name"] == name:
            return c
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--pmemd", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--stubs", required=True, help="folder with csi_pb2*.py")
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()

    import yaml
    sys.path.insert(0, a.stubs)
    import grpc
    import csi_pb2 as pb
    import csi_pb2_grpc as pb_grpc

    docs = []
    for f in sorted(glob.glob(os.path.join(a.repo, "deploy/kubernetes/*.yaml"))):
        try:
            docs += [(os.path.basename(f), d) for d in yaml.safe_load_all(open(f)) if d]
            ok("deploy: %s parses" % os.path.basename(f))
        except yaml.YAMLError as e:
            fail("deploy: %s parses" % os.path.basename(f), e)
    kinds = {}
    for f, d in docs:
        kinds.setdefault(d["kind"], []).append(d)

    # pmemd's configs.
    for f, d in docs:
        if d["kind"] == "ConfigMap" and "pmemd.yaml" in d.get("data", {}):
            p = os.path.join(a.workdir, d["metadata"]["name"] + ".yaml")
            with open(p, "w") as out:
                out.write(d["data"]["pmemd.yaml"])
            r = subprocess.run([a.pmemd, "--check-config", "-c", p], capture_output=True, text=True)
            check("deploy: pmemd --check-config accepts ConfigMap %s (%s)" % (d["metadata"]["name"], f),
                  r.returncode == 0, r.stderr or r.stdout)

    drivers = [d["metadata"]["name"] for d in kinds.get("CSIDriver", [])]
    if not check("deploy: one CSIDriver (%s)" % drivers, len(drivers) == 1, drivers):
        return 1
    driver = drivers[0]
    for sc in kinds.get("StorageClass", []):
        n = sc["metadata"]["name"]
        check("deploy: StorageClass %s: provisioner is the CSIDriver" % n, sc.get("provisioner") == driver,
              sc.get("provisioner"))
        check("deploy: StorageClass %s: WaitForFirstConsumer, allowVolumeExpansion" % n,
              sc.get("volumeBindingMode") == "WaitForFirstConsumer" and sc.get("allowVolumeExpansion") is True,
              "%s %s" % (sc.get("volumeBindingMode"), sc.get("allowVolumeExpansion")))

    # Pods: mounts, env references, service accounts.
    accounts = {(d["metadata"].get("namespace"), d["metadata"]["name"]) for d in kinds.get("ServiceAccount", [])}
    for f, d in docs:
        for s in d.get("subjects", []) if d["kind"] in ("ClusterRoleBinding", "RoleBinding") else []:
            if s["kind"] == "ServiceAccount":
                check("deploy: %s %s binds a defined ServiceAccount (%s/%s)"
                      % (d["kind"], d["metadata"]["name"], s["namespace"], s["name"]),
                      (s["namespace"], s["name"]) in accounts, sorted(accounts))
    for ns, what, spec in pod_specs(docs):
        check("deploy: %s runs as a defined ServiceAccount (%s)" % (what, spec.get("serviceAccountName")),
              (ns, spec.get("serviceAccountName")) in accounts)
        vols = {v["name"] for v in spec.get("volumes", [])}
        bad_mounts, bad_env = [], []
        for c in spec["containers"]:
            bad_mounts += ["%s:%s" % (c["name"], m["name"]) for m in c.get("volumeMounts", [])
                           if m["name"] not in vols]
            env = {e["name"] for e in c.get("env", [])}
            for arg in c.get("args", []) + c.get("command", []):
                bad_env += ["%s:%s" % (c["name"], v) for v in re.findall(r"\$\((\w+)\)", arg) if v not in env]
        check("deploy: %s: every volumeMount names a volume of the pod" % what, not bad_mounts, bad_mounts)
        check("deploy: %s: every $(VAR) in arguments is an env of its container" % what, not bad_env, bad_env)

    # The node pod: registrar path, provisioner mode.
    for _, what, spec in pod_specs(docs):
        reg = container(spec, "node-driver-registrar")
        if reg:
            path = [x.split("=", 1)[1] for x in reg["args"] if x.startswith("--kubelet-registration-path=")]
            plugin = [v["hostPath"]["path"] for v in spec["volumes"]
                      if v["name"] in [m["name"] for m in reg["volumeMounts"] if m["mountPath"] == "/csi"]]
            check("deploy: %s: the registrar's socket is <plugin-dir hostPath>/csi.sock, named after the driver"
                  % what, path and plugin and path[0] == plugin[0] + "/csi.sock"
                  and plugin[0].endswith("/" + driver), "%s vs %s" % (path, plugin))
        prov = container(spec, "csi-provisioner")
        if prov:
            args = set(prov["args"])
            need = {"--node-deployment=true", "--feature-gates=Topology=true", "--enable-capacity=true",
                    "--capacity-ownerref-level=1", "--extra-create-metadata=true", "--strict-topology=true"}
            check("deploy: %s: the provisioner in node-deployment mode with capacity tracking" % what,
                  need <= args, sorted(need - args))
            env = {e["name"] for e in prov.get("env", [])}
            check("deploy: %s: the provisioner has NODE_NAME, NAMESPACE, POD_NAME" % what,
                  {"NODE_NAME", "NAMESPACE", "POD_NAME"} <= env, sorted(env))

    # pmem-csi with each pod's own arguments.
    n = 0
    for _, what, spec in pod_specs(docs):
        c = container(spec, "pmem-csi")
        if not c:
            continue
        n += 1
        sock = os.path.join(a.workdir, "deploy-%d.sock" % n)
        args = []
        for x in c.get("args", []):
            x = x.replace("$(NODE_NAME)", "deploy-node")
            if x.startswith("--endpoint="):
                x = "--endpoint=unix://" + sock
            elif x.startswith("--pmemd-socket="):
                x = "--pmemd-socket=" + os.path.join(a.workdir, "no-pmemd.sock")
            args.append(x)
        log = open(os.path.join(a.workdir, "deploy-%d.log" % n), "w")
        p = subprocess.Popen([a.shim] + args, stdout=log, stderr=log)
        try:
            for _ in range(300):
                if os.path.exists(sock) or p.poll() is not None:
                    break
                time.sleep(0.1)
            if not check("deploy: pmem-csi starts with the arguments of %s" % what, os.path.exists(sock),
                         "exit %s; %s" % (p.poll(), open(log.name).read()[-300:])):
                continue
            ch = grpc.insecure_channel("unix:" + sock)
            info = pb_grpc.IdentityStub(ch).GetPluginInfo(pb.GetPluginInfoRequest(), timeout=30)
            check("deploy: ... and answers with the CSIDriver's name (%s)" % info.name, info.name == driver,
                  info.name)
            ni = pb_grpc.NodeStub(ch).NodeGetInfo(pb.NodeGetInfoRequest(), timeout=30)
            check("deploy: ... node id from NODE_NAME, topology {%s/node: it}" % driver,
                  ni.node_id == "deploy-node" and dict(ni.accessible_topology.segments)
                  == {driver + "/node": "deploy-node"}, str(ni))
            ch.close()
        except grpc.RpcError as e:
            fail("deploy: pmem-csi with the arguments of %s answers" % what, e)
        finally:
            p.terminate()
            p.wait()
            log.close()
    check("deploy: pmem-csi runs in the node DaemonSet and the central Deployment (%d pods)" % n, n == 2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
