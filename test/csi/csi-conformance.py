#!/usr/bin/python3
"""CSI conformance suite for pmem-csi: a real gRPC client speaking CSI v1.10.0.

Runs against a running pmem-csi (--endpoint) that talks to a running pmemd
(--pmemd-socket, used here only to cross-check what the shim did). Stubs are
generated at start from the proto (python3 -m grpc_tools.protoc into a temporary
folder; nothing generated is kept). Every check prints one line, 'ok - WHAT' or
'not ok - WHAT: DETAIL'; the exit status is 1 when any check failed.

Phases (the caller stops and starts pmemd in between; see test/node/tests/95-csi.sh):
  main        every RPC with pmemd up (needs root: publish, setpriv, df)
  probe-down  pmemd is stopped: Probe must not say ready
  probe-up    pmemd is back: Probe says ready again

Debian packages: python3-grpcio, python3-grpc-tools, libprotobuf-dev (the
google/protobuf/*.proto includes), util-linux (setpriv, mountpoint), coreutils (df).
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import http.server

MiB = 1024 * 1024
GiB = 1024 * MiB
PREFIX = "csi-t-"
CANARY = "s3cr3t-canary-7f3a"  # a secret value that must never reach the shim's log

# Filled in by load_stubs().
pb = None
pb_grpc = None
grpc = None


def load_stubs(proto, workdir):
    """Generates csi_pb2/csi_pb2_grpc from PROTO into WORKDIR (unless an earlier run of
    the same test made them there) and imports them."""
    global pb, pb_grpc, grpc
    import grpc as grpc_mod
    from grpc_tools import protoc
    import grpc_tools

    if os.path.exists(os.path.join(workdir, "csi_pb2_grpc.py")):
        sys.path.insert(0, workdir)
        import csi_pb2
        import csi_pb2_grpc
        pb, pb_grpc, grpc = csi_pb2, csi_pb2_grpc, grpc_mod
        return

    includes = [os.path.dirname(os.path.abspath(proto))]
    # The google/protobuf/*.proto the CSI proto imports: grpc_tools' own copy when it
    # ships one, else Debian's libprotobuf-dev under /usr/include.
    for inc in (os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"), "/usr/include"):
        if os.path.exists(os.path.join(inc, "google/protobuf/wrappers.proto")):
            includes.append(inc)
            break
    args = ["protoc"] + ["-I" + i for i in includes] + [
        "--python_out=" + workdir, "--grpc_python_out=" + workdir, os.path.basename(proto)]
    if protoc.main(args) != 0:
        raise RuntimeError("grpc_tools.protoc failed on " + proto)
    sys.path.insert(0, workdir)
    import csi_pb2
    import csi_pb2_grpc
    pb, pb_grpc, grpc = csi_pb2, csi_pb2_grpc, grpc_mod


# ---------------------------------------------------------------------------- reporting


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()

    def ok(self, what):
        with self.lock:
            self.passed += 1
            print("ok - " + what, flush=True)

    def fail(self, what, detail):
        with self.lock:
            self.failed += 1
            detail = " ".join(str(detail).split())
            if len(detail) > 600:
                detail = detail[:600] + "..."
            print("not ok - %s: %s" % (what, detail), flush=True)

    def check(self, what, cond, detail=""):
        if cond:
            self.ok(what)
        else:
            self.fail(what, detail or "false")
        return bool(cond)

    def eq(self, what, got, want):
        if got == want:
            self.ok("%s (%s)" % (what, got))
            return True
        self.fail(what, "got %r, want %r" % (got, want))
        return False

    def note(self, text):
        print("# " + text, flush=True)


R = Report()


def code_name(c):
    return c.name if c is not None else "OK"


def expect_code(what, fn, *codes):
    """Calls FN; passes when it fails with one of CODES (grpc.StatusCode). Returns the error."""
    names = "/".join(c.name for c in codes)
    try:
        resp = fn()
    except grpc.RpcError as e:
        if e.code() in codes:
            if not e.details():
                R.fail(what, "%s without a message (the spec wants a human-readable one)" % e.code().name)
            else:
                R.ok("%s (%s: %s)" % (what, e.code().name, e.details()[:120]))
            return e
        R.fail(what, "got %s (%s), want %s" % (e.code().name, e.details(), names))
        return e
    R.fail(what, "succeeded (%s), want %s" % (str(resp).replace("\n", " ")[:200], names))
    return None


def expect_ok(what, fn):
    """Calls FN; passes when it succeeds. Returns the response or None."""
    try:
        resp = fn()
    except grpc.RpcError as e:
        R.fail(what, "%s: %s" % (e.code().name, e.details()))
        return None
    R.ok(what)
    return resp


# ---------------------------------------------------------------------------- helpers


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Pmemd:
    """pmemd's REST API over its unix socket: only to cross-check the shim."""

    def __init__(self, path):
        self.path = path

    def call(self, method, url, body=None):
        c = UnixHTTPConnection(self.path)
        try:
            hdrs = {}
            data = None
            if body is not None:
                data = json.dumps(body)
                hdrs["Content-Type"] = "application/json"
            c.request(method, url, body=data, headers=hdrs)
            r = c.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
        finally:
            c.close()

    def volume(self, name):
        st, v = self.call("GET", "/v1/volumes/" + name)
        return v if st == 200 else None

    def pools(self):
        st, v = self.call("GET", "/v1/pools")
        return v["pools"] if st == 200 else []


def mount_cap(fs_type="", mode=None, flags=()):
    if mode is None:
        mode = pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
    return pb.VolumeCapability(
        mount=pb.VolumeCapability.MountVolume(fs_type=fs_type, mount_flags=list(flags)),
        access_mode=pb.VolumeCapability.AccessMode(mode=mode))


def block_cap():
    return pb.VolumeCapability(
        block=pb.VolumeCapability.BlockVolume(),
        access_mode=pb.VolumeCapability.AccessMode(
            mode=pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--"]


def is_mountpoint(path):
    return run(["mountpoint", "-q", path]).returncode == 0


def df_bytes(path):
    out = run(["df", "-B1", "--output=size,used,avail", path]).stdout.split("\n")[1].split()
    return tuple(int(x) for x in out)


def df_inodes(path):
    # (what df -i shows; GNU df refuses -i together with --output)
    out = run(["df", "--output=itotal,iused,iavail", path]).stdout.split("\n")[1].split()
    return tuple(int(x) for x in out)


def fsize(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def one_line(msg):
    return " ".join(str(msg).split())


# ---------------------------------------------------------------------------- the suite


class Suite:
    def __init__(self, args):
        self.a = args
        self.ch = grpc.insecure_channel("unix:" + args.endpoint)
        self.ident = pb_grpc.IdentityStub(self.ch)
        self.ctrl = pb_grpc.ControllerStub(self.ch)
        self.node = pb_grpc.NodeStub(self.ch)
        self.pmemd = Pmemd(args.pmemd_socket)
        self.topo = {args.topology_key: args.node_id}
        self.t = args.timeout
        self.made = set()  # volume ids to delete at the end

    # -- small wrappers
    def create(self, name, required=8 * MiB, limit=0, caps=None, params=None, topo=None,
               secrets=None, mutable=None):
        req = pb.CreateVolumeRequest(
            name=name,
            capacity_range=pb.CapacityRange(required_bytes=required, limit_bytes=limit),
            volume_capabilities=caps if caps is not None else [mount_cap()],
            parameters=params or {})
        if topo is not None:
            req.accessibility_requirements.CopyFrom(topo)
        if secrets:
            req.secrets.update(secrets)
        if mutable:
            req.mutable_parameters.update(mutable)
        resp = self.ctrl.CreateVolume(req, timeout=self.t)
        self.made.add(resp.volume.volume_id)
        return resp

    def delete(self, vid):
        return self.ctrl.DeleteVolume(pb.DeleteVolumeRequest(volume_id=vid), timeout=self.t)

    def publish(self, vid, target, readonly=False, cap=None, secrets=None):
        req = pb.NodePublishVolumeRequest(volume_id=vid, target_path=target, readonly=readonly,
                                          volume_capability=cap or mount_cap())
        if secrets:
            req.secrets.update(secrets)
        return self.node.NodePublishVolume(req, timeout=self.t)

    def unpublish(self, vid, target):
        return self.node.NodeUnpublishVolume(
            pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=target), timeout=self.t)

    def stats(self, vid, path):
        return self.node.NodeGetVolumeStats(
            pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=path), timeout=self.t)

    def expand(self, vid, path, required, limit=0):
        return self.node.NodeExpandVolume(
            pb.NodeExpandVolumeRequest(volume_id=vid, volume_path=path,
                                       capacity_range=pb.CapacityRange(required_bytes=required,
                                                                       limit_bytes=limit),
                                       volume_capability=mount_cap()),
            timeout=self.t)

    def probe(self):
        return self.ident.Probe(pb.ProbeRequest(), timeout=self.t)

    def capacity(self, params=None, topo=None, caps=None):
        req = pb.GetCapacityRequest(parameters=params or {}, volume_capabilities=caps or [])
        if topo is not None:
            req.accessible_topology.CopyFrom(pb.Topology(segments=topo))
        return self.ctrl.GetCapacity(req, timeout=self.t)

    def target(self, name, create=True):
        """A kubelet-like target path under the publish root; its parent exists."""
        parent = os.path.join(self.a.publish_root, "pods", "pod-" + name, "volumes",
                              "kubernetes.io~csi", name)
        os.makedirs(parent, exist_ok=True)
        t = os.path.join(parent, "mount")
        if create:
            os.makedirs(t, exist_ok=True)
        return t

    def topo_ok(self, vol):
        segs = [dict(t.segments) for t in vol.accessible_topology]
        return segs == [self.topo], segs

    # -- Identity
    def identity(self):
        r = expect_ok("GetPluginInfo answers", lambda: self.ident.GetPluginInfo(
            pb.GetPluginInfoRequest(), timeout=self.t))
        if r:
            R.eq("GetPluginInfo: name is the driver name", r.name, self.a.driver_name)
            R.check("GetPluginInfo: vendor_version is set (%s)" % r.vendor_version,
                    r.vendor_version != "")
        r = expect_ok("GetPluginCapabilities answers", lambda: self.ident.GetPluginCapabilities(
            pb.GetPluginCapabilitiesRequest(), timeout=self.t))
        if r:
            svc = {c.service.type for c in r.capabilities if c.HasField("service")}
            exp = {c.volume_expansion.type for c in r.capabilities if c.HasField("volume_expansion")}
            S = pb.PluginCapability.Service
            E = pb.PluginCapability.VolumeExpansion
            R.check("GetPluginCapabilities: CONTROLLER_SERVICE", S.CONTROLLER_SERVICE in svc, str(r))
            R.check("GetPluginCapabilities: VOLUME_ACCESSIBILITY_CONSTRAINTS",
                    S.VOLUME_ACCESSIBILITY_CONSTRAINTS in svc, str(r))
            R.eq("GetPluginCapabilities: VolumeExpansion is ONLINE only",
                 sorted(E.Type.Name(x) for x in exp), ["ONLINE"])
        r = expect_ok("Probe answers with pmemd up", self.probe)
        if r:
            R.check("Probe: ready is true", (not r.HasField("ready")) or r.ready.value, str(r))

    def capabilities(self):
        r = expect_ok("ControllerGetCapabilities answers", lambda: self.ctrl.ControllerGetCapabilities(
            pb.ControllerGetCapabilitiesRequest(), timeout=self.t))
        if r:
            T = pb.ControllerServiceCapability.RPC.Type
            got = {T.Name(c.rpc.type) for c in r.capabilities}
            for want in ("CREATE_DELETE_VOLUME", "GET_CAPACITY", "LIST_VOLUMES"):
                R.check("ControllerGetCapabilities: %s" % want, want in got, sorted(got))
            for never in ("EXPAND_VOLUME", "PUBLISH_UNPUBLISH_VOLUME", "CREATE_DELETE_SNAPSHOT",
                          "CLONE_VOLUME"):
                R.check("ControllerGetCapabilities: no %s" % never, never not in got, sorted(got))
        r = expect_ok("NodeGetCapabilities answers", lambda: self.node.NodeGetCapabilities(
            pb.NodeGetCapabilitiesRequest(), timeout=self.t))
        if r:
            T = pb.NodeServiceCapability.RPC.Type
            got = {T.Name(c.rpc.type) for c in r.capabilities}
            for want in ("GET_VOLUME_STATS", "EXPAND_VOLUME", "VOLUME_CONDITION"):
                R.check("NodeGetCapabilities: %s" % want, want in got, sorted(got))
            R.check("NodeGetCapabilities: no STAGE_UNSTAGE_VOLUME",
                    "STAGE_UNSTAGE_VOLUME" not in got, sorted(got))
        r = expect_ok("NodeGetInfo answers", lambda: self.node.NodeGetInfo(
            pb.NodeGetInfoRequest(), timeout=self.t))
        if r:
            R.eq("NodeGetInfo: node_id", r.node_id, self.a.node_id)
            if self.a.max_volumes:
                R.eq("NodeGetInfo: max_volumes_per_node", r.max_volumes_per_node, self.a.max_volumes)
            R.eq("NodeGetInfo: accessible_topology is the node",
                 dict(r.accessible_topology.segments), self.topo)

    # -- CreateVolume / DeleteVolume
    def create_delete(self):
        n = PREFIX + "basic"
        r = expect_ok("CreateVolume 8 MiB", lambda: self.create(n, 8 * MiB))
        if not r:
            return
        v = r.volume
        R.check("CreateVolume: volume_id is set (%s)" % v.volume_id, v.volume_id != "")
        R.check("CreateVolume: capacity_bytes >= required (%d)" % v.capacity_bytes,
                v.capacity_bytes >= 8 * MiB)
        ok, segs = self.topo_ok(v)
        R.check("CreateVolume: accessible_topology is this node", ok, segs)
        pv = self.pmemd.volume(v.volume_id)
        R.check("CreateVolume: pmemd has the volume (GET /v1/volumes/%s)" % v.volume_id,
                pv is not None)
        if pv:
            R.eq("CreateVolume: pmemd's size_bytes is the capacity", pv["size_bytes"], v.capacity_bytes)
        r2 = expect_ok("CreateVolume again: same request is OK (idempotent)", lambda: self.create(n, 8 * MiB))
        if r2:
            R.eq("CreateVolume again: same volume_id", r2.volume.volume_id, v.volume_id)
            R.eq("CreateVolume again: same capacity", r2.volume.capacity_bytes, v.capacity_bytes)
        expect_ok("CreateVolume again with a range that contains the volume (4..16 MiB) is OK",
                  lambda: self.create(n, 4 * MiB, 16 * MiB))
        expect_code("CreateVolume: same name, 16 MiB required: ALREADY_EXISTS",
                    lambda: self.create(n, 16 * MiB), grpc.StatusCode.ALREADY_EXISTS)
        expect_code("CreateVolume: same name, limit 4 MiB below its size: ALREADY_EXISTS",
                    lambda: self.create(n, 0, 4 * MiB), grpc.StatusCode.ALREADY_EXISTS)
        names = [x["name"] for x in (self.pmemd.call("GET", "/v1/volumes")[1] or {}).get("volumes", [])]
        R.eq("CreateVolume: one pmemd volume for the name after 5 calls", names.count(v.volume_id), 1)

        # Capacity ranges.
        r = expect_ok("CreateVolume: required 0, limit 0 gets a default size",
                      lambda: self.create(PREFIX + "default", 0, 0))
        if r:
            R.check("... with capacity_bytes > 0 (%d)" % r.volume.capacity_bytes,
                    r.volume.capacity_bytes > 0)
            expect_ok("... DeleteVolume of it", lambda: self.delete(r.volume.volume_id))
        r = expect_ok("CreateVolume: only limit 6 MiB",
                      lambda: self.create(PREFIX + "limit", 0, 6 * MiB))
        if r:
            R.check("... capacity in (0, 6 MiB] (%d)" % r.volume.capacity_bytes,
                    0 < r.volume.capacity_bytes <= 6 * MiB)
        r = expect_ok("CreateVolume: required 5 MiB, limit 7 MiB",
                      lambda: self.create(PREFIX + "range", 5 * MiB, 7 * MiB))
        if r:
            R.check("... capacity in [5, 7] MiB (%d)" % r.volume.capacity_bytes,
                    5 * MiB <= r.volume.capacity_bytes <= 7 * MiB)
        r = expect_ok("CreateVolume: required = limit = 3 MiB + 1 byte",
                      lambda: self.create(PREFIX + "exact", 3 * MiB + 1, 3 * MiB + 1))
        if r:
            R.eq("... capacity is exactly that", r.volume.capacity_bytes, 3 * MiB + 1)
        expect_code("CreateVolume: limit below required: OUT_OF_RANGE",
                    lambda: self.create(PREFIX + "inverted", 8 * MiB, 4 * MiB),
                    grpc.StatusCode.OUT_OF_RANGE)
        expect_code("CreateVolume: negative required_bytes: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "negative", -1),
                    grpc.StatusCode.INVALID_ARGUMENT)

        # Required fields and refused requests.
        expect_code("CreateVolume: no name: INVALID_ARGUMENT",
                    lambda: self.create(""), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("CreateVolume: no volume_capabilities: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "nocaps", caps=[]), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("CreateVolume: a capability without access type: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "noaccess", caps=[pb.VolumeCapability(
                        access_mode=pb.VolumeCapability.AccessMode(
                            mode=pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER))]),
                    grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("CreateVolume: block access type refused: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "block", caps=[block_cap()]),
                    grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("CreateVolume: fs_type btrfs refused: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "btrfs", caps=[mount_cap("btrfs")]),
                    grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("CreateVolume: MULTI_NODE_MULTI_WRITER refused (a node-local volume): INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "multi", caps=[mount_cap(
                        mode=pb.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER)]),
                    grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("CreateVolume: unknown parameter refused: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "param", params={"colour": "blue"}),
                    grpc.StatusCode.INVALID_ARGUMENT)
        # Names pmemd cannot take as they are: refused, or mapped to a volume that lies
        # directly in a pool (never a path built from the name).
        for what, name in (("a 10 KB name", "a" * 10000), ("name '../escape'", "../escape"),
                           ("name 'Upper_Case'", "Upper_Case"), ("a name with a NUL", "a\0b")):
            try:
                r = self.create(name, MiB)
                pv = self.pmemd.volume(r.volume.volume_id)
                inside = pv is not None and os.path.dirname(pv["path"]) == pv["pool"]
                R.check("CreateVolume: %s becomes volume %s inside a pool" % (what, r.volume.volume_id[:64]),
                        inside, pv)
                r2 = self.create(name, MiB)
                R.eq("... and the same name again finds it", r2.volume.volume_id, r.volume.volume_id)
            except grpc.RpcError as e:
                R.eq("CreateVolume: %s is refused or contained" % what, e.code().name, "INVALID_ARGUMENT")
        expect_code("CreateVolume: no capacity (1 TiB): RESOURCE_EXHAUSTED",
                    lambda: self.create(PREFIX + "huge", 1024 * GiB),
                    grpc.StatusCode.RESOURCE_EXHAUSTED)
        R.check("... and pmemd has no such volume", self.pmemd.volume(PREFIX + "huge") is None)

        # Topology: this shim provisions on its own node only.
        other = {self.a.topology_key: "some-other-node"}
        expect_code("CreateVolume: requisite topology only another node: RESOURCE_EXHAUSTED",
                    lambda: self.create(PREFIX + "elsewhere", topo=pb.TopologyRequirement(
                        requisite=[pb.Topology(segments=other)],
                        preferred=[pb.Topology(segments=other)])),
                    grpc.StatusCode.RESOURCE_EXHAUSTED)
        r = expect_ok("CreateVolume: requisite [other, this], preferred other first",
                      lambda: self.create(PREFIX + "topo", topo=pb.TopologyRequirement(
                          requisite=[pb.Topology(segments=other), pb.Topology(segments=self.topo)],
                          preferred=[pb.Topology(segments=other), pb.Topology(segments=self.topo)])))
        if r:
            ok, segs = self.topo_ok(r.volume)
            R.check("... accessible_topology is this node", ok, segs)

        # Parameters: fstype (also from the capability's fs_type) and the PVC metadata.
        pools = {p["name"]: p for p in self.pmemd.pools()}
        fs_of = {n: p.get("fstype") for n, p in pools.items()}
        for fs in ("ext4", "xfs"):
            if fs not in fs_of.values():
                R.fail("CreateVolume with fs %s" % fs, "no %s pool in pmemd (%s)" % (fs, fs_of))
                continue
            r = expect_ok("CreateVolume: fs_type %s in the capability" % fs,
                          lambda: self.create(PREFIX + "cap-" + fs, caps=[mount_cap(fs)]))
            if r:
                pv = self.pmemd.volume(r.volume.volume_id) or {}
                R.eq("... the volume is on a %s pool" % fs, fs_of.get(pv.get("pool")), fs)
            r = expect_ok("CreateVolume: parameter fstype=%s" % fs,
                          lambda: self.create(PREFIX + "par-" + fs, params={"fstype": fs}))
            if r:
                pv = self.pmemd.volume(r.volume.volume_id) or {}
                R.eq("... the volume is on a %s pool" % fs, fs_of.get(pv.get("pool")), fs)
        expect_code("CreateVolume: fstype=xfs parameter with an ext4 capability: INVALID_ARGUMENT",
                    lambda: self.create(PREFIX + "clash", caps=[mount_cap("ext4")],
                                        params={"fstype": "xfs"}),
                    grpc.StatusCode.INVALID_ARGUMENT)
        meta = {"csi.storage.k8s.io/pvc/name": "data-claim",
                "csi.storage.k8s.io/pvc/namespace": "team-a",
                "csi.storage.k8s.io/pv/name": "pvc-0f1e2d3c"}
        r = expect_ok("CreateVolume: with the provisioner's PVC/PV parameters",
                      lambda: self.create(PREFIX + "pvc", params=meta, secrets={"token": CANARY}))
        if r:
            pv = self.pmemd.volume(r.volume.volume_id) or {}
            vals = set((pv.get("labels") or {}).values())
            R.check("... pmemd's labels carry the PVC name and namespace (%s)" % pv.get("labels"),
                    {"data-claim", "team-a"} <= vals, pv.get("labels"))

        # Delete.
        expect_ok("DeleteVolume", lambda: self.delete(v.volume_id))
        R.check("DeleteVolume: pmemd no longer has it", self.pmemd.volume(v.volume_id) is None)
        expect_ok("DeleteVolume again is OK (idempotent)", lambda: self.delete(v.volume_id))
        expect_ok("DeleteVolume of an id that never existed is OK",
                  lambda: self.delete(PREFIX + "never-was"))
        expect_code("DeleteVolume: no volume_id: INVALID_ARGUMENT",
                    lambda: self.delete(""), grpc.StatusCode.INVALID_ARGUMENT)

    # -- GetCapacity
    def get_capacity(self):
        r = expect_ok("GetCapacity (no constraints)", lambda: self.capacity())
        if not r:
            return
        avail = r.available_capacity
        R.check("GetCapacity: available_capacity > 0 (%d)" % avail, avail > 0)
        R.check("GetCapacity: maximum_volume_size is set", r.HasField("maximum_volume_size"), str(r))
        mx = r.maximum_volume_size.value
        R.check("GetCapacity: 0 < maximum_volume_size (%d) <= available_capacity" % mx, 0 < mx <= avail)
        r2 = expect_ok("GetCapacity for this node's topology", lambda: self.capacity(topo=self.topo))
        if r2:
            R.eq("... the same available_capacity", r2.available_capacity, avail)
        r3 = expect_ok("GetCapacity for another node's topology",
                       lambda: self.capacity(topo={self.a.topology_key: "some-other-node"}))
        if r3:
            R.eq("... available_capacity 0", r3.available_capacity, 0)
        for fs in ("ext4", "xfs"):
            rf = expect_ok("GetCapacity with fstype=%s" % fs,
                           lambda: self.capacity(params={"fstype": fs}))
            rc = expect_ok("GetCapacity with an fs_type %s capability" % fs,
                           lambda: self.capacity(caps=[mount_cap(fs)]))
            if rf and rc:
                R.check("... both at most the total and equal (%d, %d)"
                        % (rf.available_capacity, rc.available_capacity),
                        rf.available_capacity == rc.available_capacity <= avail)
            # Exactly what the external-provisioner's capacity tracking sends for a
            # StorageClass (v5): the class's parameters as they are, the node's segment, no
            # capability. (Older provisioners sent a mount capability with access mode
            # UNKNOWN, which the spec does not allow: access_mode is required.)
            # deploy/kubernetes/storageclass.yaml names the filesystem with the standard
            # csi.storage.k8s.io/fstype key; pmem-csi's own `fstype` must work too.
            for what, params, caps in (
                    ("fstype=%s, no capability" % fs, {"fstype": fs}, None),
                    ("csi.storage.k8s.io/fstype=%s, no capability" % fs,
                     {"csi.storage.k8s.io/fstype": fs}, None)):
                rp = expect_ok("GetCapacity as the provisioner asks for a class with %s" % what,
                               lambda: self.capacity(params=params, topo=self.topo, caps=caps))
                if rf and rp:
                    R.check("... the %s pools' capacity and maximum_volume_size (%d, %d)"
                            % (fs, rp.available_capacity, rp.maximum_volume_size.value),
                            (rp.available_capacity, rp.maximum_volume_size.value)
                            == (rf.available_capacity, rf.maximum_volume_size.value),
                            "want (%d, %d)" % (rf.available_capacity, rf.maximum_volume_size.value))
        expect_code("GetCapacity with an unknown parameter: INVALID_ARGUMENT",
                    lambda: self.capacity(params={"colour": "blue"}), grpc.StatusCode.INVALID_ARGUMENT)

        # maximum_volume_size is a promise: exactly that fits, 1 MiB more does not.
        r = self.capacity()
        mx = r.maximum_volume_size.value
        expect_code("CreateVolume of maximum_volume_size + 1 MiB: RESOURCE_EXHAUSTED",
                    lambda: self.create(PREFIX + "max-plus", mx + MiB), grpc.StatusCode.RESOURCE_EXHAUSTED)
        big = expect_ok("CreateVolume of exactly maximum_volume_size (%d)" % mx,
                        lambda: self.create(PREFIX + "max", mx, mx))
        if big:
            r4 = self.capacity()
            R.check("GetCapacity: available_capacity dropped by at least the volume (%d -> %d)"
                    % (r.available_capacity, r4.available_capacity),
                    r.available_capacity - r4.available_capacity >= mx)
            expect_ok("DeleteVolume of the big one", lambda: self.delete(big.volume.volume_id))
            r5 = self.capacity()
            R.eq("GetCapacity: available_capacity is back after the delete",
                 r5.available_capacity, r.available_capacity)

    # -- ValidateVolumeCapabilities, ListVolumes
    def validate_list(self):
        r = expect_ok("CreateVolume for validate", lambda: self.create(PREFIX + "validate"))
        if not r:
            return
        vid = r.volume.volume_id

        def vvc(vid, caps):
            return self.ctrl.ValidateVolumeCapabilities(pb.ValidateVolumeCapabilitiesRequest(
                volume_id=vid, volume_capabilities=caps), timeout=self.t)
        r = expect_ok("ValidateVolumeCapabilities: mount, SINGLE_NODE_WRITER",
                      lambda: vvc(vid, [mount_cap()]))
        if r:
            R.check("... confirmed", r.HasField("confirmed") and len(r.confirmed.volume_capabilities) == 1,
                    one_line(r))
        r = expect_ok("ValidateVolumeCapabilities: block", lambda: vvc(vid, [block_cap()]))
        if r:
            R.check("... not confirmed, with a message (%s)" % r.message,
                    not r.HasField("confirmed") and r.message != "", one_line(r))
        expect_code("ValidateVolumeCapabilities: no volume_id: INVALID_ARGUMENT",
                    lambda: vvc("", [mount_cap()]), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("ValidateVolumeCapabilities: no capabilities: INVALID_ARGUMENT",
                    lambda: vvc(vid, []), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("ValidateVolumeCapabilities: unknown volume: NOT_FOUND",
                    lambda: vvc(PREFIX + "never-was", [mount_cap()]), grpc.StatusCode.NOT_FOUND)

        # ListVolumes: 5 more volumes, pages of 2.
        want = {vid}
        for i in range(5):
            try:
                want.add(self.create("%slist-%d" % (PREFIX, i), 4 * MiB).volume.volume_id)
            except grpc.RpcError as e:
                R.fail("CreateVolume for list %d" % i, e.details())
        lv = lambda **kw: self.ctrl.ListVolumes(pb.ListVolumesRequest(**kw), timeout=self.t)
        r = expect_ok("ListVolumes (no paging)", lambda: lv())
        if not r:
            return
        allids = [e.volume.volume_id for e in r.entries]
        R.check("ListVolumes: every volume made here is listed", want <= set(allids),
                sorted(want - set(allids)))
        R.eq("ListVolumes: no next_token without max_entries", r.next_token, "")
        pmemd_names = {x["name"] for x in self.pmemd.call("GET", "/v1/volumes")[1]["volumes"]}
        R.check("ListVolumes: the ids are pmemd's volumes (%d)" % len(allids),
                sorted(set(allids)) == sorted(pmemd_names),
                "only listed: %s; only in pmemd: %s" % (sorted(set(allids) - pmemd_names),
                                                        sorted(pmemd_names - set(allids))))
        e0 = [e for e in r.entries if e.volume.volume_id == vid]
        if e0:
            ok, segs = self.topo_ok(e0[0].volume)
            R.check("ListVolumes: an entry's accessible_topology is this node", ok, segs)
            R.eq("ListVolumes: an entry's capacity_bytes", e0[0].volume.capacity_bytes, 8 * MiB)
        pages, seen, token, bad = 0, [], "", ""
        while pages < 100:
            try:
                p = lv(max_entries=2, starting_token=token)
            except grpc.RpcError as e:
                bad = "%s: %s" % (e.code().name, e.details())
                break
            pages += 1
            if len(p.entries) > 2:
                bad = "page %d has %d entries" % (pages, len(p.entries))
            seen += [e.volume.volume_id for e in p.entries]
            token = p.next_token
            if not token:
                break
        R.check("ListVolumes: pages of max_entries=2 hold at most 2 and end (%d pages)" % pages,
                not bad and not token, bad or "no end after 100 pages")
        R.check("ListVolumes: the pages together are the whole list, each volume once (%d)" % len(seen),
                sorted(seen) == sorted(allids), "pages: %s; whole list: %s" % (seen, allids))
        expect_code("ListVolumes: a starting_token that was never given: ABORTED",
                    lambda: lv(starting_token="#not a token#"), grpc.StatusCode.ABORTED)
        expect_code("ListVolumes: negative max_entries: INVALID_ARGUMENT",
                    lambda: lv(max_entries=-1), grpc.StatusCode.INVALID_ARGUMENT)

    # -- NodePublish / NodeUnpublish / stats / expand
    def publish_flow(self):
        r = expect_ok("CreateVolume for publish (8 MiB)", lambda: self.create(PREFIX + "pub", 8 * MiB))
        if not r:
            return
        vid = r.volume.volume_id
        pv = self.pmemd.volume(vid) or {}
        t = self.target("pub")
        if not expect_ok("NodePublishVolume", lambda: self.publish(vid, t, secrets={"key": CANARY})):
            return
        R.check("NodePublishVolume: the target is a mount point", is_mountpoint(t))
        w = run(AS_NOBODY + ["dd", "if=/dev/zero", "of=" + t + "/by-nobody", "bs=1M", "count=1",
                             "conv=fsync", "status=none"])
        R.check("a non-root writer (uid 65534, no capabilities) writes 1 MiB through the target",
                w.returncode == 0, w.stderr)
        R.check("... the file is in the volume (pmemd's path)",
                os.path.exists(os.path.join(pv.get("path", "/nonexistent"), "by-nobody")))
        expect_ok("NodePublishVolume again, same arguments: OK (idempotent)", lambda: self.publish(vid, t))
        expect_code("NodePublishVolume again read-only on the same target: ALREADY_EXISTS",
                    lambda: self.publish(vid, t, readonly=True), grpc.StatusCode.ALREADY_EXISTS)
        expect_code("NodePublishVolume: DeleteVolume while published: FAILED_PRECONDITION",
                    lambda: self.delete(vid), grpc.StatusCode.FAILED_PRECONDITION)
        R.check("... the volume is still there", self.pmemd.volume(vid) is not None)

        # Errors.
        expect_code("NodePublishVolume: no volume_id: INVALID_ARGUMENT",
                    lambda: self.publish("", t), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodePublishVolume: no target_path: INVALID_ARGUMENT",
                    lambda: self.publish(vid, ""), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodePublishVolume: no volume_capability: INVALID_ARGUMENT",
                    lambda: self.node.NodePublishVolume(pb.NodePublishVolumeRequest(
                        volume_id=vid, target_path=self.target("nocap")), timeout=self.t),
                    grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodePublishVolume: unknown volume: NOT_FOUND",
                    lambda: self.publish(PREFIX + "never-was", self.target("nf")),
                    grpc.StatusCode.NOT_FOUND)
        expect_code("NodePublishVolume: block access type refused (INVALID_ARGUMENT or FAILED_PRECONDITION)",
                    lambda: self.publish(vid, self.target("blk"), cap=block_cap()),
                    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
        R.check("... the block target is not a mount point", not is_mountpoint(self.target("blk")))
        outside = tempfile.mkdtemp(prefix="csi-outside-")
        expect_code("NodePublishVolume: a target outside the kubelet root: INVALID_ARGUMENT",
                    lambda: self.publish(vid, outside), grpc.StatusCode.INVALID_ARGUMENT)
        R.check("... not mounted there", not is_mountpoint(outside))
        os.rmdir(outside)
        # A path that climbs out of the kubelet root, and a relative one: refused before
        # anything is made (the plugin creates target_path, so it must check it first).
        climb = os.path.join(self.a.publish_root, "pods", "..", "..", "..", "..", "tmp",
                             "csi-climb-%d" % os.getpid())
        expect_code("NodePublishVolume: a target with '..' out of the kubelet root: INVALID_ARGUMENT",
                    lambda: self.publish(vid, climb), grpc.StatusCode.INVALID_ARGUMENT)
        R.check("... nothing was made at %s" % os.path.normpath(climb),
                not os.path.exists(os.path.normpath(climb)))
        expect_code("NodePublishVolume: a relative target: INVALID_ARGUMENT",
                    lambda: self.publish(vid, "var/lib/kubelet/pods/rel/mount"),
                    grpc.StatusCode.INVALID_ARGUMENT)
        R.check("... nothing was made under the working folder (the shim's, in 95-csi)",
                not os.path.exists("var/lib/kubelet/pods/rel"))

        # The SP creates target_path (the kubelet makes only its parent) and removes it again.
        fresh = self.target("fresh", create=False)
        if expect_ok("NodePublishVolume on a target that does not exist yet (the SP creates it)",
                     lambda: self.publish(vid, fresh)):
            R.check("... it is a mount point", is_mountpoint(fresh))
            expect_ok("NodeUnpublishVolume of it", lambda: self.unpublish(vid, fresh))
            R.check("... the SP removed the target it made", not os.path.exists(fresh))

        # Read-only.
        ro = self.target("pub-ro")
        if expect_ok("NodePublishVolume read-only on a second target", lambda: self.publish(vid, ro, readonly=True)):
            w = run(["touch", ro + "/x"])
            R.check("read-only target: even root cannot write (%s)" % one_line(w.stderr),
                    w.returncode != 0 and "Read-only" in w.stderr, w.stderr or "the write succeeded")
            R.check("read-only target: the data is readable", os.path.exists(ro + "/by-nobody"))
            w = run(AS_NOBODY + ["touch", t + "/still-rw"])
            R.check("the read-write target still takes writes", w.returncode == 0, w.stderr)
            expect_code("NodePublishVolume again read-write on the read-only target: ALREADY_EXISTS",
                        lambda: self.publish(vid, ro), grpc.StatusCode.ALREADY_EXISTS)
            expect_ok("NodeUnpublishVolume of the read-only target", lambda: self.unpublish(vid, ro))

        # Each part on its own: a broken one must not leave the target mounted.
        for part in (self.stats_checks, self.expand_checks):
            try:
                part(vid, t)
            except Exception as e:
                R.fail("%s aborted" % part.__name__, "%s: %s" % (type(e).__name__, e))
                traceback.print_exc(file=sys.stdout)

        # Unpublish.
        expect_code("NodeUnpublishVolume: no volume_id: INVALID_ARGUMENT",
                    lambda: self.unpublish("", t), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodeUnpublishVolume: no target_path: INVALID_ARGUMENT",
                    lambda: self.unpublish(vid, ""), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodeUnpublishVolume: unknown volume: NOT_FOUND",
                    lambda: self.unpublish(PREFIX + "never-was", t), grpc.StatusCode.NOT_FOUND)
        expect_ok("NodeUnpublishVolume", lambda: self.unpublish(vid, t))
        R.check("NodeUnpublishVolume: the target is no longer a mount point", not is_mountpoint(t))
        expect_ok("NodeUnpublishVolume again: OK (idempotent)", lambda: self.unpublish(vid, t))
        pv = self.pmemd.volume(vid) or {}
        R.eq("pmemd: the volume is published nowhere", pv.get("published"), [])
        R.check("the data written through the target stays in the volume",
                os.path.exists(os.path.join(pv.get("path", "/nonexistent"), "by-nobody")))
        expect_ok("DeleteVolume after unpublish", lambda: self.delete(vid))

    def stats_checks(self, vid, t, fs="ext4"):
        # 3 MiB more by nobody, then the stats against df on the target. Used bytes and
        # available bytes must be exactly what df shows (both come from the volume's project
        # quota: statfs on a prjquota directory reports the quota); total may differ from
        # df's size by the quota's overhead, pmemd's limit_bytes - size_bytes (docs/api.md,
        # "Sizes"). Inodes: used is compared with df -i's iused when df shows the volume's
        # own inode figures (pmemd's `inodes` limit is set), and always with the inodes
        # found in the volume (find -xdev);
        # total and available always with df -i's itotal and iavail.
        run(AS_NOBODY + ["dd", "if=/dev/urandom", "of=" + t + "/stats", "bs=1M", "count=3",
                         "conv=fsync", "status=none"])
        for i in range(3):
            os.makedirs(os.path.join(t, "d%d" % i), exist_ok=True)
        r = expect_ok("%s: NodeGetVolumeStats on the target" % fs, lambda: self.stats(vid, t))
        if r:
            size, used, avail = df_bytes(t)
            itotal, iused, iavail = df_inodes(t)
            pv = self.pmemd.volume(vid) or {}
            slack = pv.get("limit_bytes", 0) - pv.get("size_bytes", 0)
            R.note("%s stats: %s" % (fs, one_line(r)))
            R.note("df -B1 size/used/avail %d/%d/%d; df -i itotal/iused/iavail %d/%d/%d; quota overhead %d"
                   % (size, used, avail, itotal, iused, iavail, slack))
            u = {pb.VolumeUsage.Unit.Name(x.unit): x for x in r.usage}
            b, n = u.get("BYTES"), u.get("INODES")
            if R.check(fs + ": NodeGetVolumeStats: a BYTES usage", b is not None, one_line(r)):
                R.eq(fs + ": NodeGetVolumeStats: bytes used = df -B1 used", b.used, used)
                R.eq(fs + ": NodeGetVolumeStats: bytes available = df -B1 avail", b.available, avail)
                R.check(fs + ": NodeGetVolumeStats: bytes total (%d) = df -B1 size (%d) within the quota overhead (%d)"
                        % (b.total, size, slack), abs(b.total - size) <= slack)
                R.check(fs + ": NodeGetVolumeStats: bytes used >= the 3 MiB written (%d)" % b.used,
                        b.used >= 3 * MiB)
            if R.check(fs + ": NodeGetVolumeStats: an INODES usage", n is not None, one_line(r)):
                found = int(run(["sh", "-c", "find \"$1\" -xdev | wc -l", "-", t]).stdout)
                R.eq(fs + ": NodeGetVolumeStats: inodes used = the inodes in the volume (find -xdev)", n.used, found)
                if pv.get("inodes", 0) > 0:
                    # df -i shows the volume's own figures (an inode limit on its project).
                    R.eq(fs + ": NodeGetVolumeStats: inodes used = df -i iused", n.used, iused)
                else:
                    # No inode limit: df -i on the target shows the pool's inodes, which the
                    # volume shares; used is the volume's own (above), total and available
                    # must be the pool's, as df shows them now.
                    R.note("df -i shows the pool's inodes (the volume has no inode limit)")
                R.eq(fs + ": NodeGetVolumeStats: inodes total = df -i itotal", n.total, itotal)
                R.eq(fs + ": NodeGetVolumeStats: inodes available = df -i iavail", n.available, iavail)
            if r.HasField("volume_condition"):
                R.eq(fs + ": NodeGetVolumeStats: volume_condition is normal", r.volume_condition.abnormal, False)
            else:
                R.fail(fs + ": NodeGetVolumeStats: volume_condition", "missing (VOLUME_CONDITION is advertised)")
        if fs != "ext4":  # the errors once
            os.unlink(t + "/stats")
            return
        expect_code("NodeGetVolumeStats: no volume_id: INVALID_ARGUMENT",
                    lambda: self.stats("", t), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodeGetVolumeStats: no volume_path: INVALID_ARGUMENT",
                    lambda: self.stats(vid, ""), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodeGetVolumeStats: unknown volume: NOT_FOUND",
                    lambda: self.stats(PREFIX + "never-was", t), grpc.StatusCode.NOT_FOUND)
        expect_code("NodeGetVolumeStats: a path where the volume is not published: NOT_FOUND",
                    lambda: self.stats(vid, self.target("not-here")), grpc.StatusCode.NOT_FOUND)
        os.unlink(t + "/stats")

    def expand_checks(self, vid, t):
        # A writer without capabilities keeps one file open and appends until the quota
        # stops it; NodeExpandVolume grows the volume under it; the same writer goes on.
        f = t + "/grow"
        w = subprocess.Popen(AS_NOBODY + ["bash", "-c",
                             'exec 3>>"$1"; while :; do head -c 262144 /dev/zero >&3 2>/dev/null || sleep 0.2; done',
                             "writer", f])
        try:
            s1 = -1
            for _ in range(240):
                s0 = s1
                time.sleep(0.5)
                s1 = fsize(f)
                if s1 > 2 * MiB and s1 == s0:
                    break
            R.note("writer stalled at %d bytes" % s1)
            R.check("the writer stalls at the volume's size (%d bytes)" % s1, 2 * MiB < s1 <= 8 * MiB)
            r = expect_ok("NodeExpandVolume to 16 MiB while the writer writes",
                          lambda: self.expand(vid, t, 16 * MiB))
            if r:
                R.check("NodeExpandVolume: capacity_bytes >= 16 MiB (%d)" % r.capacity_bytes,
                        r.capacity_bytes >= 16 * MiB)
            s2 = s1
            for _ in range(240):
                s2 = fsize(f)
                if s2 > s1 + 4 * MiB:
                    break
                time.sleep(0.5)
            R.check("the same writer continues past the old size (%d -> %d bytes)" % (s1, s2),
                    s2 > s1 + 4 * MiB)
            R.check("the writer was never restarted", w.poll() is None)
        finally:
            w.kill()
            w.wait()
        pv = self.pmemd.volume(vid) or {}
        R.check("pmemd's size_bytes is at least 16 MiB (%s)" % pv.get("size_bytes"),
                pv.get("size_bytes", 0) >= 16 * MiB)
        expect_ok("NodeExpandVolume again to 16 MiB: OK (idempotent)", lambda: self.expand(vid, t, 16 * MiB))
        expect_ok("NodeExpandVolume to 12 MiB (already larger): OK", lambda: self.expand(vid, t, 12 * MiB))
        R.check("... and no shrink (%s)" % (self.pmemd.volume(vid) or {}).get("size_bytes"),
                (self.pmemd.volume(vid) or {}).get("size_bytes", 0) >= 16 * MiB)
        expect_code("NodeExpandVolume: no volume_id: INVALID_ARGUMENT",
                    lambda: self.expand("", t, 20 * MiB), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodeExpandVolume: no volume_path: INVALID_ARGUMENT",
                    lambda: self.expand(vid, "", 20 * MiB), grpc.StatusCode.INVALID_ARGUMENT)
        expect_code("NodeExpandVolume: unknown volume: NOT_FOUND",
                    lambda: self.expand(PREFIX + "never-was", t, 20 * MiB), grpc.StatusCode.NOT_FOUND)
        expect_code("NodeExpandVolume: limit below required: OUT_OF_RANGE",
                    lambda: self.expand(vid, t, 24 * MiB, 20 * MiB), grpc.StatusCode.OUT_OF_RANGE)
        expect_code("NodeExpandVolume beyond the free capacity (1 TiB): OUT_OF_RANGE or RESOURCE_EXHAUSTED",
                    lambda: self.expand(vid, t, 1024 * GiB),
                    grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.RESOURCE_EXHAUSTED)
        R.check("... the volume keeps its size", (self.pmemd.volume(vid) or {}).get("size_bytes", 0) >= 16 * MiB)
        os.unlink(f)

    def xfs_stats(self):
        """Stats against df on an xfs volume too (xfs reports project quotas its own way)."""
        r = expect_ok("CreateVolume on xfs for stats", lambda: self.create(
            PREFIX + "stats-xfs", 8 * MiB, caps=[mount_cap("xfs")]))
        if not r:
            return
        vid = r.volume.volume_id
        t = self.target("stats-xfs")
        if expect_ok("xfs: NodePublishVolume", lambda: self.publish(vid, t, cap=mount_cap("xfs"))):
            try:
                self.stats_checks(vid, t, "xfs")
            finally:
                expect_ok("xfs: NodeUnpublishVolume", lambda: self.unpublish(vid, t))
        expect_ok("xfs: DeleteVolume", lambda: self.delete(vid))

    # -- Concurrency
    def concurrency(self):
        n = 12
        with concurrent.futures.ThreadPoolExecutor(max_workers=2 * n + 4) as ex:
            creates = [ex.submit(self.create, "%spar-%d" % (PREFIX, i), 4 * MiB) for i in range(n)]
            same = [ex.submit(self.create, PREFIX + "same", 4 * MiB) for _ in range(n)]
            probes = [ex.submit(self.probe) for _ in range(4)]
            errs, ids = [], set()
            for f in creates:
                try:
                    f.result()
                except grpc.RpcError as e:
                    errs.append("%s: %s" % (e.code().name, e.details()))
            R.check("%d parallel CreateVolume calls all succeed" % n, not errs, errs[:3])
            for f in same:
                try:
                    ids.add(f.result().volume.volume_id)
                except grpc.RpcError as e:
                    errs.append("%s: %s" % (e.code().name, e.details()))
            R.check("%d parallel CreateVolume calls of one name all succeed with one volume_id (%s)"
                    % (n, sorted(ids)), not errs and len(ids) == 1, errs[:3] or sorted(ids))
            pok = []
            for f in probes:
                try:
                    pr = f.result()
                    pok.append((not pr.HasField("ready")) or pr.ready.value)
                except grpc.RpcError as e:
                    pok.append("%s: %s" % (e.code().name, e.details()))
            R.check("Probe during the creates says ready", pok == [True] * len(probes), pok)
        names = [x["name"] for x in self.pmemd.call("GET", "/v1/volumes")[1]["volumes"]]
        R.eq("pmemd has one volume for the name created in parallel", names.count(PREFIX + "same"), 1)
        R.eq("pmemd has all %d parallel volumes" % n,
             sum(1 for i in range(n) if "%spar-%d" % (PREFIX, i) in names), n)
        if self.a.shim:
            self.held_calls()

    def held_calls(self):
        """A second shim against a stand-in pmemd that holds volume creates until told:
        Probe and GetPluginInfo must answer while those creates are still held (ordering,
        not timing: the stand-in has not released a single one yet)."""
        d = tempfile.mkdtemp(prefix="csi-held-")
        fake = HoldingPmemd(os.path.join(d, "pmemd.sock"), self.pmemd)
        sock = os.path.join(d, "csi.sock")
        log = open(os.path.join(d, "shim.log"), "w")
        shim = subprocess.Popen([self.a.shim, "--endpoint", "unix://" + sock, "--pmemd-socket",
                                 fake.path, "--node-id", self.a.node_id], stdout=log, stderr=log)
        ch = None
        try:
            ch = grpc.insecure_channel("unix:" + sock)
            grpc.channel_ready_future(ch).result(timeout=60)
            ident = pb_grpc.IdentityStub(ch)
            ctrl = pb_grpc.ControllerStub(ch)
            # Two steps: 4 held calls (fewer than the shim's default --workers, 8), then 8:
            # Probe must answer in both (the second is the "many slow calls" case).
            futs = []
            for step in (4, 8):
                futs += [ctrl.CreateVolume.future(pb.CreateVolumeRequest(
                    name="%sheld-%d" % (PREFIX, i), capacity_range=pb.CapacityRange(required_bytes=MiB),
                    volume_capabilities=[mount_cap()]), timeout=120) for i in range(len(futs), step)]
                arrived = fake.wait_arrived(step, 60)
                R.eq("stand-in pmemd: %d creates arrived and are held" % step, arrived, step)
                try:
                    # The deadline only bounds the wait when Probe is queued behind the held
                    # calls; what is checked is the order (answered before any release).
                    pr = ident.Probe(pb.ProbeRequest(), timeout=10)
                    R.check("Probe answers while %d creates are held in pmemd" % arrived,
                            fake.released == 0, "answered only after a release")
                    R.check("... and says ready", (not pr.HasField("ready")) or pr.ready.value, one_line(pr))
                    ident.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=10)
                    R.check("GetPluginInfo answers while %d creates are held" % arrived, fake.released == 0)
                except grpc.RpcError as e:
                    R.fail("Probe and GetPluginInfo answer while %d creates are held in pmemd" % arrived,
                           "%s: %s" % (e.code().name, e.details()))
            fake.release()
            codes = []
            for f in futs:
                try:
                    f.result()
                    codes.append("OK")
                except grpc.RpcError as e:
                    codes.append(e.code().name)
            R.eq("the held creates end with pmemd's 507 as RESOURCE_EXHAUSTED", sorted(set(codes)),
                 ["RESOURCE_EXHAUSTED"])
        except Exception as e:  # the second shim did not come up, ...
            R.fail("held calls scenario", "%s: %s" % (type(e).__name__, e))
        finally:
            fake.release()
            if ch:
                ch.close()
            shim.terminate()
            try:
                shim.wait(timeout=30)
            except subprocess.TimeoutExpired:
                shim.kill()
                shim.wait()
            log.close()
            fake.close()
            shutil.rmtree(d, ignore_errors=True)

    # -- the end
    def secrets_not_logged(self):
        if not self.a.shim_log:
            return
        try:
            with open(self.a.shim_log, errors="replace") as f:
                text = f.read()
        except OSError as e:
            R.fail("the shim's log is readable", e)
            return
        R.check("the secret values sent in CreateVolume/NodePublishVolume are not in the shim's log "
                "(%d bytes of log)" % len(text), CANARY not in text)

    def cleanup(self):
        left = []
        for vid in sorted(self.made):
            try:
                self.delete(vid)
            except grpc.RpcError as e:
                left.append("%s (%s)" % (vid, e.code().name))
        st, body = self.pmemd.call("GET", "/v1/volumes")
        rest = [x["name"] for x in (body or {}).get("volumes", [])]
        R.check("cleanup: every volume made by the suite is deleted through DeleteVolume",
                not left and not rest, "left: %s; pmemd still lists %s" % (left, rest))

    def main(self):
        for part in (self.identity, self.capabilities, self.create_delete, self.get_capacity,
                     self.validate_list, self.publish_flow, self.xfs_stats, self.concurrency):
            t0 = time.monotonic()
            try:
                part()
            except Exception as e:
                R.fail("%s aborted" % part.__name__, "%s: %s" % (type(e).__name__, e))
                traceback.print_exc(file=sys.stdout)
            # A figure for whoever keeps the suite fast; never asserted.
            R.note("%s took %.1f s" % (part.__name__, time.monotonic() - t0))
        self.cleanup()
        self.secrets_not_logged()


# ---------------------------------------------------------------------------- stand-in pmemd


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class HoldingPmemd:
    """Answers /readyz at once and every other GET from the real pmemd; holds every
    POST /v1/volumes until release(), then answers 507."""

    def __init__(self, path, real):
        self.path = path
        self.cond = threading.Condition()
        self.arrived = 0
        self.released = 0
        self.go = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, body):
                data = (json.dumps(body) + "\n").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.split("?")[0] in ("/readyz", "/healthz"):
                    self.reply(200, {"status": "ready"})
                    return
                try:
                    st, body = real.call("GET", self.path)
                except OSError as e:
                    st, body = 502, {"error": {"code": "internal", "message": str(e)}}
                self.reply(st, body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                if self.path.split("?")[0] != "/v1/volumes":
                    self.reply(404, {"error": {"code": "not_found", "message": "stand-in"}})
                    return
                with outer.cond:
                    outer.arrived += 1
                    outer.cond.notify_all()
                outer.go.wait(120)
                with outer.cond:
                    outer.released += 1
                self.reply(507, {"error": {"code": "insufficient_storage",
                                           "message": "stand-in pmemd: no room"}})

        self.srv = _UnixHTTPServer(path, H)
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def wait_arrived(self, n, secs):
        with self.cond:
            self.cond.wait_for(lambda: self.arrived >= n, timeout=secs)
            return self.arrived

    def release(self):
        self.go.set()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---------------------------------------------------------------------------- probe phases


def probe_phase(args, want_ready):
    ch = grpc.insecure_channel("unix:" + args.endpoint)
    ident = pb_grpc.IdentityStub(ch)
    try:
        r = ident.Probe(pb.ProbeRequest(), timeout=args.timeout)
        ready = (not r.HasField("ready")) or r.ready.value
        got = "ready=%s" % ready
    except grpc.RpcError as e:
        ready, got = False, e.code().name
    if want_ready:
        R.check("Probe with pmemd started again: ready (%s)" % got, ready, got)
    else:
        # The spec: not ready is either ready=false or an error code; FAILED_PRECONDITION is
        # its "plugin not healthy", UNAVAILABLE says the dependency cannot be reached.
        R.check("Probe with pmemd stopped: not ready (%s)" % got,
                got in ("ready=False", "FAILED_PRECONDITION", "UNAVAILABLE"), got)
        try:
            ident.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=args.timeout)
            R.ok("GetPluginInfo still answers with pmemd stopped")
        except grpc.RpcError as e:
            R.fail("GetPluginInfo still answers with pmemd stopped", e.code().name)
        ctrl = pb_grpc.ControllerStub(ch)
        try:
            ctrl.CreateVolume(pb.CreateVolumeRequest(
                name=PREFIX + "while-down", capacity_range=pb.CapacityRange(required_bytes=MiB),
                volume_capabilities=[mount_cap()]), timeout=args.timeout)
            R.fail("CreateVolume with pmemd stopped: UNAVAILABLE", "succeeded")
        except grpc.RpcError as e:
            R.eq("CreateVolume with pmemd stopped: UNAVAILABLE", e.code().name, "UNAVAILABLE")
    ch.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True, help="the shim's unix socket path")
    ap.add_argument("--pmemd-socket", default="/run/pmemd/pmemd.sock")
    ap.add_argument("--proto", default=os.path.join(here, "../../csi/proto/csi.proto"))
    ap.add_argument("--driver-name", default="pmem.csi.pmemd.io")
    ap.add_argument("--node-id", required=True)
    ap.add_argument("--topology-key", default="pmem.csi.pmemd.io/node")
    ap.add_argument("--max-volumes", type=int, default=0, help="the shim's --max-volumes, if set")
    ap.add_argument("--publish-root", default="/var/lib/kubelet")
    ap.add_argument("--shim", help="the pmem-csi binary: a second instance runs against a "
                    "stand-in pmemd for the held-calls check")
    ap.add_argument("--shim-log", help="the shim's log: secrets must not be in it")
    ap.add_argument("--timeout", type=float, default=120, help="per-call deadline, seconds")
    ap.add_argument("--phase", choices=("main", "probe-down", "probe-up"), default="main")
    ap.add_argument("--stubs", help="a folder for the generated stubs, kept for the next "
                    "phase of the same test (default: a temporary one, removed)")
    args = ap.parse_args()

    work = args.stubs or tempfile.mkdtemp(prefix="csi-stubs-")
    t0 = time.monotonic()
    try:
        os.makedirs(work, exist_ok=True)
        load_stubs(args.proto, work)
    except Exception as e:
        R.fail("CSI stubs generated from %s" % args.proto, e)
        return 1
    finally:
        if not args.stubs:
            shutil.rmtree(work, ignore_errors=True)
    R.note("stubs ready in %.1f s" % (time.monotonic() - t0))
    try:
        grpc.channel_ready_future(grpc.insecure_channel("unix:" + args.endpoint)).result(timeout=60)
    except Exception as e:
        R.fail("the shim's socket %s accepts a gRPC channel" % args.endpoint, type(e).__name__)
        return 1
    if args.phase == "main":
        Suite(args).main()
    else:
        probe_phase(args, args.phase == "probe-up")
    R.note("%d passed, %d failed" % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
