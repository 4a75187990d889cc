#!/usr/bin/python3
"""Offline checks of deploy/: what an operator runs must match circuitd.

Each check is a ctest test of its own (tests/deploy/CMakeLists.txt):

  check_deploy.py CHECK --source_dir=DIR [--circuitd=PATH]

CHECK is one of: systemd, yaml, flags, ports, probes, containerfile, nats.
A check prints what is wrong, one line each, and exits 1; it prints "ok: ..."
and exits 0 otherwise. Nothing here needs a network, a container engine or a
Kubernetes cluster: the files are parsed (python3-yaml), and circuitd itself
(the one just built) says which flags and health service names exist.
"""

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

# circuitd allows this long, after the grace, for the last calls to end
# (CircuitServer::Shutdown: calls_deadline).
CALLS_AFTER_GRACE_SECONDS = 10


class Problems:
    """Collects what is wrong; the check fails when there is anything."""

    def __init__(self):
        self.lines = []

    def add(self, where, what):
        self.lines.append(f"{where}: {what}")

    def finish(self, what_was_checked):
        if self.lines:
            for line in self.lines:
                print(f"FAIL {line}")
            return 1
        print(f"ok: {what_was_checked}")
        return 0


def rel(args, path):
    return os.path.relpath(path, args.source_dir)


def deploy_path(args, *parts):
    return os.path.join(args.source_dir, "deploy", *parts)


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML
    keeps the last one silently; Kubernetes and compose may not)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=StrictLoader)
                if d is not None]


def yaml_files(args):
    found = []
    for root, _, files in os.walk(deploy_path(args)):
        for name in files:
            if name.endswith((".yaml", ".yml")):
                found.append(os.path.join(root, name))
    return sorted(found)


# --- circuitd itself -------------------------------------------------------


def circuitd_flags(args):
    """Every flag name circuitd --helpfull lists."""
    out = subprocess.run([args.circuitd, "--helpfull"], capture_output=True,
                         text=True, timeout=60)
    text = out.stdout + out.stderr
    names = set(re.findall(r"^\s+--([A-Za-z0-9_]+) \(", text, re.MULTILINE))
    if "listen" not in names or "data_dir" not in names:
        sys.exit(f"FAIL circuitd --helpfull listed no --listen/--data_dir; "
                 f"it printed:\n{text[:2000]}")
    return names


def flag_problems(flags, known, where, problems):
    """Each --name[=value] of `flags` must be a flag circuitd knows."""
    for flag in flags:
        if not flag.startswith("--"):
            problems.add(where, f"{flag!r} is not a --flag")
            continue
        name = flag[2:].split("=", 1)[0]
        if name in known:
            continue
        # absl's --noBOOL.
        if name.startswith("no") and name[2:] in known:
            continue
        problems.add(where, f"--{name} is not a circuitd flag "
                     f"(circuitd --helpfull does not list it)")


def flag_value(flags, name):
    for flag in flags:
        if flag == f"--{name}":
            return "true"
        if flag.startswith(f"--{name}="):
            return flag.split("=", 1)[1]
    return None


def port_of(address):
    """The port of host:port (None when there is none)."""
    if address is None or ":" not in address:
        return None
    port = address.rsplit(":", 1)[1]
    return int(port) if port.isdigit() else None


# --- where circuitd's flags are written --------------------------------------


def env_example_flags(args):
    """CIRCUITD_FLAGS of deploy/circuitd.env.example: each line, commented
    out or not (the cluster example is a comment)."""
    path = deploy_path(args, "circuitd.env.example")
    sets = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#?CIRCUITD_FLAGS=(.*)$", line.strip())
            if m:
                sets.append(m.group(1).split())
    return path, sets


def unit_exec_flags(args):
    """The flags ExecStart of deploy/circuitd.service gives before
    $CIRCUITD_FLAGS."""
    with open(deploy_path(args, "circuitd.service"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("ExecStart="):
                words = line[len("ExecStart="):].split()
                return [w for w in words[1:] if not w.startswith("$")]
    return []


def compose(args):
    path = deploy_path(args, "compose.yaml")
    return path, load_yaml_docs(path)[0]


def compose_circuitd_services(doc):
    """Services whose command is circuitd's flags (they build or run the
    circuitd image)."""
    return {name: svc for name, svc in doc["services"].items()
            if "circuitd" in str(svc.get("image", "")) or "build" in svc}


def compose_nats_services(doc):
    return {name: svc for name, svc in doc["services"].items()
            if str(svc.get("image", "")).split("/")[-1].startswith("nats:")}


def k8s_docs(args):
    """(path, doc) of every Kubernetes manifest under deploy/k8s, with the
    strategic merge patches of overlays applied to a copy of their base, so
    an overlay's Deployment is checked as the cluster would get it."""
    root = deploy_path(args, "k8s")
    out = []
    for path in yaml_files(args):
        if not path.startswith(root + os.sep):
            continue
        for doc in load_yaml_docs(path):
            if doc.get("kind") == "Kustomization":
                out.extend(overlay_docs(path, doc))
            elif not is_patch(path, args):
                out.append((path, doc))
    return out


def patch_paths(args):
    paths = set()
    for path in yaml_files(args):
        for doc in load_yaml_docs(path):
            if doc.get("kind") == "Kustomization":
                for patch in doc.get("patches", []):
                    paths.add(os.path.normpath(
                        os.path.join(os.path.dirname(path), patch["path"])))
    return paths


def is_patch(path, args):
    return os.path.normpath(path) in patch_paths(args)


def kustomization_resources(path):
    """The manifests a kustomization.yaml lists, directories followed."""
    doc = load_yaml_docs(path)[0]
    out = []
    for res in doc.get("resources", []):
        full = os.path.normpath(os.path.join(os.path.dirname(path), res))
        if os.path.isdir(full):
            out.extend(kustomization_resources(
                os.path.join(full, "kustomization.yaml")))
        else:
            out.append(full)
    return out


def merge(base, patch):
    """Strategic merge as far as these manifests use it: maps merge, null
    deletes a key, lists of maps with a name merge by name (a "$patch:
    delete" item removes its match), other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = value
        return out
    if (isinstance(base, list) and isinstance(patch, list) and patch
            and all(isinstance(x, dict) for x in base + patch)):
        key = next((k for k in ("name", "mountPath", "containerPort")
                    if all(k in x for x in patch)), None)
        if key is not None:
            out = list(base)
            for item in patch:
                idx = next((i for i, x in enumerate(out)
                            if x.get(key) == item[key]), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        out.pop(idx)
                elif idx is None:
                    out.append(item)
                else:
                    out[idx] = merge(out[idx], item)
            return out
    return patch


def overlay_docs(path, kustomization):
    patches = kustomization.get("patches", [])
    if not patches:
        return []
    docs = []
    for res in kustomization_resources(path):
        docs.extend(load_yaml_docs(res))
    out = []
    for patch_ref in patches:
        patch_path = os.path.join(os.path.dirname(path), patch_ref["path"])
        for patch in load_yaml_docs(patch_path):
            for doc in docs:
                if (doc.get("kind") == patch.get("kind") and
                        doc["metadata"]["name"] == patch["metadata"]["name"]):
                    out.append((patch_path, merge(doc, patch)))
    return out


def containers_of(doc):
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec, spec.get("containers", [])


def circuitd_containers(args):
    """(path, pod spec, container) of every circuitd container in k8s."""
    out = []
    for path, doc in k8s_docs(args):
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        spec, containers = containers_of(doc)
        for c in containers:
            if "circuitd" in c.get("image", "") or c.get("name") == "circuitd":
                out.append((path, doc, spec, c))
    return out


def containerfile(args):
    """The Containerfile's instructions, (keyword, text) with continuation
    lines joined, and the index where each stage starts."""
    path = deploy_path(args, "Containerfile")
    instructions = []
    current = ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.rstrip("\n")
            if not current and (not stripped.strip() or
                                stripped.lstrip().startswith("#")):
                continue
            if stripped.lstrip().startswith("#"):
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            current += stripped
            keyword, _, rest = current.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    return path, instructions


def containerfile_stages(instructions):
    stages = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            stages.append({"from": rest, "run": [], "other": []})
        elif stages:
            (stages[-1]["run"] if keyword == "RUN" else
             stages[-1]["other"]).append((keyword, rest))
    return stages


def apt_packages(run_lines):
    """Packages of every `apt-get install` in RUN lines."""
    packages = []
    for run in run_lines:
        for command in re.split(r"&&|;", run):
            words = command.split()
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                packages.extend(w for w in after if not w.startswith("-"))
    return packages


def containerfile_command(instructions):
    """ENTRYPOINT and CMD of the last stage, as exec-form lists."""
    entry, cmd = [], []
    for keyword, rest in instructions:
        if keyword == "ENTRYPOINT":
            entry = json.loads(rest)
        elif keyword == "CMD":
            cmd = json.loads(rest)
    return entry, cmd


# --- the checks --------------------------------------------------------------


def check_systemd(args):
    """systemd-analyze verify of the unit, with ExecStart pointing at the
    built circuitd (verify insists that the binary exists and is
    executable), in a temporary directory; then systemd-analyze security.

    What fails: a non-zero exit of verify, or any line verify prints that
    names the unit (circuitd.service): those are about our file (an unknown
    key or section, a bad value, a missing binary), which verify reports as
    warnings with exit 0. Lines that do not name it are about the machine
    (a container without a running systemd, units of the host) and are only
    shown. And the hardening: `systemd-analyze security --offline=yes`
    must rate the unit's exposure at most 2.0 (it is 1.4: "OK")."""
    problems = Problems()
    unit_src = deploy_path(args, "circuitd.service")
    with open(unit_src, encoding="utf-8") as f:
        text = f.read()
    if not re.search(r"^ExecStart=/usr/local/bin/circuitd\b", text, re.M):
        problems.add(rel(args, unit_src),
                     "ExecStart does not run /usr/local/bin/circuitd")
    with tempfile.TemporaryDirectory() as tmp:
        unit = os.path.join(tmp, "circuitd.service")
        with open(unit, "w", encoding="utf-8") as f:
            f.write(re.sub(r"^ExecStart=/usr/local/bin/circuitd",
                           f"ExecStart={args.circuitd}", text, flags=re.M))
        verify = subprocess.run(["systemd-analyze", "verify", unit],
                                capture_output=True, text=True, timeout=120)
        output = (verify.stdout + verify.stderr).splitlines()
        for line in output:
            if "circuitd.service" in line:
                problems.add("systemd-analyze verify", line)
            elif line.strip():
                print(f"(about the machine, not the unit) {line}")
        if verify.returncode != 0:
            problems.add("systemd-analyze verify",
                         f"exit {verify.returncode}")
        security = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--no-pager",
             "--threshold=20", unit],
            capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for circuitd.service: "
                      r"([0-9.]+)", security.stdout + security.stderr)
        if m is None:
            problems.add("systemd-analyze security",
                         f"no exposure level in: {security.stdout[-500:]}"
                         f"{security.stderr[-500:]}")
        elif float(m.group(1)) > 2.0:
            problems.add("systemd-analyze security",
                         f"exposure {m.group(1)} is above 2.0: hardening "
                         f"was lost")
    # The drain must finish before systemd's SIGKILL.
    stop = re.search(r"^TimeoutStopSec=(\d+)$", text, re.M)
    _, sets = env_example_flags(args)
    for flags in sets:
        grace = int(flag_value(flags, "shutdown_grace_seconds") or 5)
        if stop is None or int(stop.group(1)) <= grace + \
                CALLS_AFTER_GRACE_SECONDS:
            problems.add(rel(args, unit_src),
                         f"TimeoutStopSec must exceed "
                         f"--shutdown_grace_seconds={grace} + "
                         f"{CALLS_AFTER_GRACE_SECONDS} s")
    for key in ("DynamicUser=yes", "StateDirectory=circuit",
                "ProtectSystem=strict", "NoNewPrivileges=yes",
                "Restart=on-failure", "KillSignal=SIGTERM",
                "EnvironmentFile=/etc/circuit/circuitd.env",
                "CapabilityBoundingSet=\n",
                "SystemCallFilter=@system-service"):
        if key not in text:
            problems.add(rel(args, unit_src), f"lacks {key.strip()}")
    return problems.finish("systemd-analyze verify and security of "
                           "deploy/circuitd.service")


def check_yaml(args):
    """Every YAML file parses; every Kubernetes manifest has apiVersion,
    kind and metadata.name; every workload has a PodDisruptionBudget whose
    selector matches its pods; no Secret with values is committed."""
    problems = Problems()
    count = 0
    for path in yaml_files(args):
        try:
            docs = load_yaml_docs(path)
        except yaml.YAMLError as e:
            problems.add(rel(args, path), f"does not parse: {e}")
            continue
        count += 1
        if not docs:
            problems.add(rel(args, path), "is empty")
    if problems.lines:
        # The rest reads every file.
        return problems.finish("")
    k8s_root = deploy_path(args, "k8s") + os.sep
    workloads, pdbs = [], []
    for path in yaml_files(args):
        if not path.startswith(k8s_root):
            continue
        try:
            docs = load_yaml_docs(path)
        except yaml.YAMLError:
            continue
        for i, doc in enumerate(docs):
            where = f"{rel(args, path)} document {i + 1}"
            if not isinstance(doc, dict):
                problems.add(where, "is not a mapping")
                continue
            for key in ("apiVersion", "kind"):
                if not doc.get(key):
                    problems.add(where, f"has no {key}")
            if doc.get("kind") == "Kustomization":
                for res in doc.get("resources", []):
                    full = os.path.join(os.path.dirname(path), res)
                    if not os.path.exists(full):
                        problems.add(where, f"resource {res} does not exist")
                continue
            if not doc.get("metadata", {}).get("name"):
                problems.add(where, "has no metadata.name")
            kind = doc.get("kind")
            if kind == "Secret":
                problems.add(where, "a Secret is committed: Secrets are made "
                             "by the operator (deploy/README.md)")
            if is_patch(path, args):
                continue
            if kind in ("Deployment", "StatefulSet"):
                workloads.append((where, doc))
                spec = doc.get("spec", {})
                labels = spec.get("template", {}).get("metadata", {}).get(
                    "labels", {})
                match = spec.get("selector", {}).get("matchLabels", {})
                if not match or any(labels.get(k) != v
                                    for k, v in match.items()):
                    problems.add(where, "selector does not match its pods' "
                                 "labels")
            if kind == "PodDisruptionBudget":
                pdbs.append(doc)
    for where, doc in workloads:
        labels = doc["spec"]["template"]["metadata"]["labels"]
        replicas = doc["spec"].get("replicas", 1)
        covered = [p for p in pdbs if all(
            labels.get(k) == v
            for k, v in p["spec"].get("selector", {}).get("matchLabels",
                                                          {}).items())]
        if not covered:
            problems.add(where, f"{doc['metadata']['name']} has no "
                         f"PodDisruptionBudget")
        for pdb in covered:
            spec = pdb["spec"]
            if spec.get("maxUnavailable") not in (None, 1) or \
                    (spec.get("minAvailable") is not None and
                     spec["minAvailable"] != replicas - 1):
                problems.add(where, f"PodDisruptionBudget "
                             f"{pdb['metadata']['name']} should allow "
                             f"exactly one of {replicas} down")
    if count == 0:
        problems.add("deploy", "no YAML file found")
    return problems.finish(f"{count} YAML files parse; Kubernetes manifests "
                           f"are well-formed")


def check_flags(args):
    """Every circuitd flag in the env file example, the unit, compose,
    Kubernetes and the Containerfile is one circuitd --helpfull lists."""
    known = circuitd_flags(args)
    problems = Problems()
    checked = 0
    path, sets = env_example_flags(args)
    if not sets:
        problems.add(rel(args, path), "has no CIRCUITD_FLAGS line")
    for flags in sets:
        flag_problems(flags, known, rel(args, path), problems)
        checked += 1
    flag_problems(unit_exec_flags(args), known, "deploy/circuitd.service",
                  problems)
    path, doc = compose(args)
    services = compose_circuitd_services(doc)
    if not services:
        problems.add(rel(args, path), "has no circuitd service")
    for name, svc in services.items():
        flag_problems(svc.get("command", []), known,
                      f"{rel(args, path)} service {name}", problems)
        checked += 1
    containers = circuitd_containers(args)
    if not containers:
        problems.add("deploy/k8s", "has no circuitd container")
    for path, doc, _, c in containers:
        flag_problems(c.get("command", [])[1:] + c.get("args", []), known,
                      f"{rel(args, path)} {doc['metadata']['name']}", problems)
        checked += 1
    path, instructions = containerfile(args)
    entry, cmd = containerfile_command(instructions)
    if entry != ["/usr/local/bin/circuitd"]:
        problems.add(rel(args, path), f"ENTRYPOINT is {entry}, not "
                     f"[\"/usr/local/bin/circuitd\"]")
    flag_problems(cmd, known, f"{rel(args, path)} CMD", problems)
    checked += 1
    return problems.finish(f"the circuitd flags of {checked} command lines "
                           f"exist ({len(known)} flags)")


def check_ports(args):
    """Ports published, exposed, probed and scraped are the ports the
    circuitd (and NATS) commands beside them listen on."""
    problems = Problems()
    # compose.
    path, doc = compose(args)
    where = rel(args, path)
    services = compose_circuitd_services(doc)
    nats = compose_nats_services(doc)
    nats_ports = {}
    for name, svc in nats.items():
        conf = nats_conf_of_compose_service(args, svc)
        if conf is None:
            problems.add(where, f"{name} mounts no deploy/nats/*.conf")
            continue
        text = open(conf, encoding="utf-8").read()
        nats_ports[name] = port_of(re.search(r"^listen:\s*(\S+)", text,
                                             re.M).group(1))
    host_ports = []
    scrape_targets = set()
    node_names = []
    for name, svc in services.items():
        flags = svc.get("command", [])
        grpc, http = (port_of(flag_value(flags, "listen")),
                      port_of(flag_value(flags, "http_listen")))
        if grpc is None or http is None:
            problems.add(where, f"{name}: --listen and --http_listen need a "
                         f"port")
            continue
        published = {}
        for spec in svc.get("ports", []):
            parts = str(spec).split(":")
            host_ports.append(parts[-2])
            published[int(parts[-1])] = parts[-2]
        if set(published) != {grpc, http}:
            problems.add(where, f"{name} publishes container ports "
                         f"{sorted(published)}, but listens on {grpc} (gRPC) "
                         f"and {http} (HTTP)")
        url = flag_value(flags, "public_http_url")
        if url and http in published and \
                port_of(url.split("//", 1)[-1]) != int(published[http]):
            problems.add(where, f"{name}: --public_http_url {url} is not the "
                         f"published HTTP port {published[http]}")
        scrape_targets.add(f"{name}:{http}")
        node_names.append(flag_value(flags, "node_name"))
        cluster = flag_value(flags, "cluster") or ""
        want = {f"nats://{n}:{p}" for n, p in nats_ports.items()}
        if set(cluster.split(",")) != want:
            problems.add(where, f"{name}: --cluster={cluster} should list "
                         f"every NATS server: {','.join(sorted(want))}")
    if len(set(node_names)) != len(node_names) or None in node_names:
        problems.add(where, f"each circuitd needs its own --node_name: "
                     f"{node_names}")
    for spec in (s for svc in nats.values() for s in svc.get("ports", [])):
        host_ports.append(str(spec).split(":")[-2])
    if len(set(host_ports)) != len(host_ports):
        problems.add(where, f"host ports are published twice: {host_ports}")
    # Prometheus scrapes exactly the compose nodes' HTTP ports.
    prom_path = deploy_path(args, "prometheus", "prometheus.yml")
    prom = load_yaml_docs(prom_path)[0]
    targets = {t for job in prom.get("scrape_configs", [])
               for sc in job.get("static_configs", [])
               for t in sc.get("targets", [])}
    if targets != scrape_targets:
        problems.add(rel(args, prom_path),
                     f"scrapes {sorted(targets)}, but the compose nodes "
                     f"serve /metrics on {sorted(scrape_targets)}")
    # Kubernetes.
    nats_k8s = k8s_nats(args, problems)
    for path, doc, spec, c in circuitd_containers(args):
        where = f"{rel(args, path)} {doc['metadata']['name']}"
        flags = c.get("args", [])
        grpc = port_of(flag_value(flags, "listen"))
        http = port_of(flag_value(flags, "http_listen"))
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        if set(ports.values()) != {grpc, http}:
            problems.add(where, f"containerPorts {ports} are not the ports "
                         f"it listens on: {grpc} (gRPC), {http} (HTTP)")
        for probe_kind in ("readinessProbe", "livenessProbe",
                           "startupProbe"):
            probe = c.get(probe_kind)
            if not probe:
                continue
            handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc")
                        if h in probe]
            if len(handlers) != 1:
                problems.add(where, f"{probe_kind} has {len(handlers)} "
                             f"handlers {handlers}; Kubernetes takes one")
            if "grpc" in probe:
                if probe["grpc"].get("port") != grpc:
                    problems.add(where, f"{probe_kind} probes gRPC on "
                                 f"{probe['grpc'].get('port')}, circuitd "
                                 f"listens on {grpc}")
                if flag_value(flags, "tls_cert"):
                    problems.add(where, f"{probe_kind} is a gRPC probe, "
                                 f"which speaks plain text, but circuitd "
                                 f"serves TLS")
            if "httpGet" in probe:
                get = probe["httpGet"]
                port = get.get("port")
                port = ports.get(port, port)
                if port != http:
                    problems.add(where, f"{probe_kind} GETs port {port}, "
                                 f"circuitd's HTTP is on {http}")
                if get.get("path") != "/healthz":
                    problems.add(where, f"{probe_kind} GETs "
                                 f"{get.get('path')}, not /healthz")
                tls = bool(flag_value(flags, "tls_cert"))
                if (get.get("scheme", "HTTP") == "HTTPS") != tls:
                    problems.add(where, f"{probe_kind} scheme "
                                 f"{get.get('scheme', 'HTTP')} but TLS is "
                                 f"{'on' if tls else 'off'}")
        # The drain fits in the grace period.
        grace = int(flag_value(flags, "shutdown_grace_seconds") or 5)
        pre = c.get("lifecycle", {}).get("preStop", {})
        pre_wait = 0
        if "exec" in pre and pre["exec"]["command"][0] == "sleep":
            pre_wait = int(pre["exec"]["command"][1])
        elif "sleep" in pre:
            pre_wait = int(pre["sleep"]["seconds"])
        else:
            problems.add(where, "has no preStop wait before the drain")
        period = spec.get("terminationGracePeriodSeconds", 30)
        if period <= pre_wait + grace + CALLS_AFTER_GRACE_SECONDS:
            problems.add(where, f"terminationGracePeriodSeconds {period} "
                         f"must exceed preStop {pre_wait} + grace {grace} + "
                         f"{CALLS_AFTER_GRACE_SECONDS}")
        if nats_k8s:
            svc, replicas, client_port = nats_k8s
            want = {f"nats://{svc}-{i}.{svc}:{client_port}"
                    for i in range(replicas)}
            have = set((flag_value(flags, "cluster") or "").split(","))
            if have != want:
                problems.add(where, f"--cluster lists {sorted(have)}, the "
                             f"NATS StatefulSet serves {sorted(want)}")
    for path, doc in k8s_docs(args):
        if doc.get("kind") == "Service":
            check_service_targets(args, path, doc, problems)
    # The Containerfile.
    path, instructions = containerfile(args)
    _, cmd = containerfile_command(instructions)
    grpc = port_of(flag_value(cmd, "listen"))
    http = port_of(flag_value(cmd, "http_listen"))
    exposed = set()
    health = ""
    for keyword, rest in instructions:
        if keyword == "EXPOSE":
            exposed |= {int(p.split("/")[0]) for p in rest.split()}
        if keyword == "HEALTHCHECK":
            health = rest
    if exposed != {grpc, http}:
        problems.add(rel(args, path), f"EXPOSE {sorted(exposed)}, CMD listens "
                     f"on {grpc} and {http}")
    if health and not re.search(rf"/{http}\b", health):
        problems.add(rel(args, path), f"HEALTHCHECK does not check the HTTP "
                     f"port {http}")
    return problems.finish("ports of compose, Kubernetes, Prometheus and the "
                           "Containerfile match circuitd's listeners")


def nats_conf_of_compose_service(args, svc):
    for volume in svc.get("volumes", []):
        src = str(volume).split(":")[0]
        if src.endswith(".conf"):
            return os.path.normpath(deploy_path(args, src))
    return None


def k8s_nats(args, problems):
    """(service name, replicas, client port) of the NATS StatefulSet."""
    for path, doc in k8s_docs(args):
        if doc.get("kind") != "StatefulSet":
            continue
        _, containers = containers_of(doc)
        if not any("nats" in c.get("image", "") for c in containers):
            continue
        conf = k8s_nats_conf(args)
        m = re.search(r"^listen:\s*(\S+)", conf or "", re.M)
        if m is None:
            problems.add(rel(args, path), "NATS config has no listen")
            return None
        return (doc["spec"]["serviceName"], doc["spec"]["replicas"],
                port_of(m.group(1)))
    problems.add("deploy/k8s", "no NATS StatefulSet")
    return None


def k8s_nats_conf(args):
    for _, doc in k8s_docs(args):
        if doc.get("kind") == "ConfigMap" and "nats.conf" in doc.get(
                "data", {}):
            return doc["data"]["nats.conf"]
    return None


def check_service_targets(args, path, doc, problems):
    """A Service's targetPorts exist on the pods it selects."""
    selector = doc["spec"].get("selector", {})
    pods = []
    for _, other in k8s_docs(args):
        if other.get("kind") in ("Deployment", "StatefulSet"):
            labels = other["spec"]["template"]["metadata"].get("labels", {})
            if selector and all(labels.get(k) == v
                                for k, v in selector.items()):
                pods.append(other)
    if not pods:
        problems.add(rel(args, path), f"Service {doc['metadata']['name']} "
                     f"selects no pods")
        return
    for pod in pods:
        _, containers = containers_of(pod)
        names = {p.get("name") for c in containers for p in c.get("ports", [])}
        numbers = {p["containerPort"] for c in containers
                   for p in c.get("ports", [])}
        for port in doc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if target not in names and target not in numbers:
                problems.add(rel(args, path),
                             f"Service {doc['metadata']['name']} port "
                             f"{port.get('name')} targets {target}, which "
                             f"{pod['metadata']['name']} does not serve")


def health_check(port, service, timeout=10):
    """grpc.health.v1.Health/Check of `service` on 127.0.0.1:port: the
    status number, or the gRPC error's code name. The messages are encoded
    by hand (field 1 of each), so no generated stub is needed."""
    import grpc
    encoded = service.encode()
    request = (b"\x0a" + bytes([len(encoded)]) + encoded) if encoded else b""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        try:
            reply = check(request, timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name
    # HealthCheckResponse{status = 1}: 0x08 then the varint (absent: 0).
    return reply[1] if len(reply) >= 2 and reply[0] == 0x08 else 0


def check_probes(args):
    """Every gRPC probe in deploy/ asks circuitd's health service for a name
    the built circuitd answers SERVING for: circuitd is started on loopback
    (port 0, memory journal) and asked."""
    problems = Problems()
    names = set()
    for path, doc, _, c in circuitd_containers(args):
        for probe_kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = c.get(probe_kind) or {}
            if "grpc" in probe:
                names.add((rel(args, path), probe_kind,
                           probe["grpc"].get("service", "")))
    if not names:
        problems.add("deploy/k8s", "no gRPC health probe of circuitd")
        return problems.finish("")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [args.circuitd, "--listen=127.0.0.1:0", "--http_listen=",
             "--journal=memory", f"--data_dir={tmp}/data",
             "--instructor_key=deploy-check", "--kiosk_key=deploy-check"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # A thread reads the lines (select() on a buffered pipe would
            # miss lines already read into Python's buffer); this thread
            # waits for them with a deadline.
            lines = queue.Queue()

            def read_lines():
                for line in proc.stdout:
                    lines.put(line)
                lines.put(None)

            threading.Thread(target=read_lines, daemon=True).start()
            port = None
            seen = []
            deadline = time.monotonic() + 60
            while port is None:
                try:
                    line = lines.get(
                        timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if line is None:
                    break
                seen.append(line)
                m = re.match(r"circuitd listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    port = int(m.group(1))
            if port is None:
                code = proc.poll()
                problems.add("circuitd", (f"exited with {code}" if code
                                          is not None else "ran") +
                             " without saying its port within 60 s: " +
                             "".join(seen)[-1000:])
                return problems.finish("")
            for where, probe_kind, service in sorted(names):
                status = health_check(port, service)
                if status != 1:
                    problems.add(where, f"{probe_kind} asks for service "
                                 f"{service!r}: circuitd answers {status}, "
                                 f"not SERVING (1)")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return problems.finish(f"{len(names)} gRPC probes name services circuitd "
                           f"serves: "
                           f"{sorted({n[2] for n in names})}")


def install_deps_packages(args):
    """The packages deploy/install-deps.sh installs (its packages=( ... )
    array and what it appends)."""
    text = open(deploy_path(args, "install-deps.sh"), encoding="utf-8").read()
    m = re.search(r"^packages=\((.*?)^\)", text, re.M | re.S)
    packages = set()
    for line in m.group(1).splitlines():
        packages |= set(line.split("#", 1)[0].split())
    for extra in re.findall(r"packages\+=\(([^)]*)\)", text):
        packages |= set(extra.split())
    return packages


def linked_packages(args, problems):
    """The Debian packages that hold each shared library circuitd names
    (its NEEDED entries, not their own dependencies: apt brings those)."""
    dump = subprocess.run(["objdump", "-p", args.circuitd],
                          capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"^\s+NEEDED\s+(\S+)", dump, re.M)
    ldd = subprocess.run(["ldd", args.circuitd], capture_output=True,
                         text=True, check=True).stdout
    where = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    packages = set()
    for lib in needed:
        path = where.get(lib)
        if path is None:
            problems.add("circuitd", f"ldd does not resolve {lib}")
            continue
        candidates = [path, os.path.realpath(path)]
        # usrmerge: dpkg may know a file under /lib or under /usr/lib.
        for c in list(candidates):
            if c.startswith("/usr/lib/"):
                candidates.append(c[len("/usr"):])
            elif c.startswith("/lib/"):
                candidates.append("/usr" + c)
        owner = None
        for c in candidates:
            out = subprocess.run(["dpkg-query", "-S", c], capture_output=True,
                                 text=True)
            if out.returncode == 0:
                owner = out.stdout.split(":", 1)[0].strip()
                break
        if owner is None:
            problems.add("circuitd", f"no Debian package holds {lib} ({path})")
        else:
            packages.add(owner)
    return packages


# In debian:12-slim already (Essential: yes): a runtime stage need not, and
# does not, install them.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}


def check_containerfile(args):
    """The Containerfile: every stage FROM debian:12 (bookworm); the build
    stage installs only packages deploy/install-deps.sh installs; the
    runtime stage installs exactly the packages of the libraries the built
    circuitd links; it runs as a non-root user; ENTRYPOINT is circuitd
    (its flags: the flags check)."""
    problems = Problems()
    path, instructions = containerfile(args)
    where = rel(args, path)
    stages = containerfile_stages(instructions)
    if len(stages) < 2:
        problems.add(where, f"{len(stages)} stage(s); a build stage and a "
                     f"runtime stage expected")
        return problems.finish("")
    for stage in stages:
        image = stage["from"].split()[0]
        if not re.fullmatch(r"(docker\.io/(library/)?)?debian:"
                            r"(12|bookworm)(-slim)?(@sha256:[0-9a-f]{64})?",
                            image):
            problems.add(where, f"FROM {image}: not debian:12 (bookworm)")
    build, runtime = stages[0], stages[-1]
    deps = install_deps_packages(args)
    build_packages = apt_packages([r for _, r in build["run"]])
    if not build_packages:
        problems.add(where, "the build stage installs no packages")
    for p in build_packages:
        if p not in deps:
            problems.add(where, f"the build stage installs {p}, which "
                         f"deploy/install-deps.sh does not")
    if not any("cmake --build" in r and "--target circuitd" in r
               for _, r in build["run"]):
        problems.add(where, "the build stage does not build circuitd with "
                     "cmake --build ... --target circuitd")
    runtime_packages = set(apt_packages([r for _, r in runtime["run"]]))
    needed = linked_packages(args, problems) - BASE_IMAGE_PACKAGES
    for p in sorted(needed - runtime_packages):
        problems.add(where, f"the runtime stage lacks {p}, which holds a "
                     f"library circuitd links")
    for p in sorted(runtime_packages - needed):
        problems.add(where, f"the runtime stage installs {p}, which holds no "
                     f"library circuitd links")
    users = [r for k, r in runtime["other"] if k == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.add(where, "the runtime stage does not run as a non-root "
                     "USER")
    volumes = " ".join(r for k, r in runtime["other"] if k == "VOLUME")
    if "/var/lib/circuit" not in volumes:
        problems.add(where, "no VOLUME /var/lib/circuit")
    _, cmd = containerfile_command(instructions)
    if flag_value(cmd, "data_dir") != "/var/lib/circuit":
        problems.add(where, "CMD does not keep --data_dir in the volume "
                     "/var/lib/circuit")
    return problems.finish(f"Containerfile: {len(build_packages)} build "
                           f"packages in install-deps.sh, runtime packages "
                           f"{sorted(runtime_packages)}")


def check_nats(args):
    """nats-server -t accepts each config (compose's files and the
    Kubernetes ConfigMap's, with POD_NAME set); each names itself, routes to
    every server of its cluster and keeps JetStream on its volume."""
    problems = Problems()
    nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not os.access(nats_server, os.X_OK):
        problems.add("nats-server", "not installed (deploy/install-deps.sh "
                     "installs Debian's nats-server)")
        return problems.finish("")

    def test_config(where, path, env=None):
        out = subprocess.run([nats_server, "-t", "-c", path],
                             capture_output=True, text=True, timeout=60,
                             env=env)
        if out.returncode != 0:
            problems.add(where, f"nats-server -t: {out.stdout}{out.stderr}")

    path, doc = compose(args)
    nats = compose_nats_services(doc)
    names = set()
    for name, svc in nats.items():
        conf = nats_conf_of_compose_service(args, svc)
        if conf is None:
            problems.add(rel(args, path), f"{name} mounts no NATS config")
            continue
        where = rel(args, conf)
        test_config(where, conf)
        text = open(conf, encoding="utf-8").read()
        m = re.search(r"^server_name:\s*(\S+)", text, re.M)
        names.add(m.group(1) if m else None)
        routes = set(re.findall(r"nats-route://([^:\s]+):(\d+)", text))
        cluster_port = re.search(r"cluster\s*\{[^}]*listen:\s*\S+:(\d+)",
                                 text, re.S)
        want = {(n, cluster_port.group(1) if cluster_port else "?")
                for n in nats}
        if routes != want:
            problems.add(where, f"routes {sorted(routes)}, the servers are "
                         f"{sorted(want)}")
        store = re.search(r"store_dir:\s*(\S+)", text)
        mounts = [str(v).split(":")[1] for v in svc.get("volumes", [])
                  if not str(v).split(":")[0].startswith(".")]
        if store is None or not any(
                store.group(1).startswith(m) for m in mounts):
            problems.add(where, f"JetStream's store_dir is not on the "
                         f"service's volume {mounts}")
    if len(names) != len(nats) or None in names:
        problems.add(rel(args, path), f"each NATS server needs its own "
                     f"server_name: {sorted(map(str, names))}")
    conf = k8s_nats_conf(args)
    if conf is None:
        problems.add("deploy/k8s", "no ConfigMap with nats.conf")
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write(conf)
            f.flush()
            env = dict(os.environ, POD_NAME="nats-0")
            test_config("deploy/k8s nats.conf", f.name, env)
        info = k8s_nats(args, problems)
        if info:
            svc, replicas, _ = info
            routes = set(re.findall(r"nats-route://([^:\s]+):\d+", conf))
            want = {f"{svc}-{i}.{svc}" for i in range(replicas)}
            if routes != want:
                problems.add("deploy/k8s nats.conf", f"routes "
                             f"{sorted(routes)}, the pods are {sorted(want)}")
    return problems.finish(f"{len(nats)} compose NATS configs and the "
                           f"Kubernetes one are valid and route to all "
                           f"servers")


def free_base(offsets):
    """A port base where base+offset is free on 127.0.0.1 for each offset."""
    import random
    import socket
    for _ in range(200):
        base = random.randint(20000, 40000)
        sockets = []
        try:
            for offset in offsets:
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    sys.exit("FAIL no free ports for the local cluster")


def check_local_cluster(args):
    """deploy/local-cluster.sh (make cluster) starts three nats-servers and
    three circuitd nodes that serve; a class created on one node is taken
    over by another when that node is killed; SIGTERM stops everything."""
    problems = Problems()
    work = tempfile.mkdtemp(prefix="local-cluster-")
    env = dict(os.environ)
    env["BIN"] = os.path.dirname(args.circuitd)
    env["DIR"] = work
    env["LEASE_SECONDS"] = "3"
    env["PORT_BASE"] = str(free_base([0, 1, 2, 2000, 2001, 2002]))
    grpc = free_base([0, 1, 2])
    env["GRPC_BASE"] = str(grpc)
    env["HTTP_BASE"] = str(free_base([0, 1, 2]))
    script = subprocess.Popen(
        [deploy_path(args, "local-cluster.sh")], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    lines = []
    ready = threading.Event()

    def read():
        for line in script.stdout:
            lines.append(line)
            if line.strip() == "cluster ready":
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    circuit = os.path.join(os.path.dirname(args.circuitd), "circuit")
    try:
        if not ready.wait(90):
            problems.add("deploy/local-cluster.sh",
                         "no \"cluster ready\" within 90 s; it printed:\n" +
                         "".join(lines))
            return problems.finish("")
        key_env = dict(os.environ)
        with open(os.path.join(work, "instructor.key")) as f:
            key_env["CIRCUIT_INSTRUCTOR_KEY"] = f.read().strip()

        def run(port, *argv):
            return subprocess.run(
                [circuit, f"--address=127.0.0.1:{port}", *argv],
                env=key_env, capture_output=True, text=True, timeout=30)

        created = run(grpc + 1, "class", "create", "kickback-trio")
        match = re.search(r"class (c-[0-9a-f]+)", created.stdout)
        if created.returncode != 0 or not match:
            problems.add("node-2", f"class create failed: {created.stdout}"
                         f"{created.stderr}")
            return problems.finish("")
        class_id = match.group(1)
        # Node 2 dies; node 1 or 3 takes its class over once its lease
        # runs out.
        subprocess.run(["pkill", "-KILL", "-f", "--",
                        f"--data_dir={work}/node-2"], check=False)
        deadline = time.time() + 60
        taken = False
        while time.time() < deadline and not taken:
            for port in (grpc, grpc + 2):
                listed = run(port, "classes")
                if class_id in listed.stdout:
                    taken = True
            time.sleep(0.5)
        if not taken:
            problems.add("deploy/local-cluster.sh",
                         f"class {class_id} was not taken over by node 1 or "
                         f"3 within 60 s of node 2's end")
    finally:
        os.killpg(script.pid, signal.SIGTERM)
        try:
            script.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(script.pid, signal.SIGKILL)
            problems.add("deploy/local-cluster.sh",
                         "did not stop within 60 s of SIGTERM")
        shutil.rmtree(work, ignore_errors=True)
    return problems.finish("make cluster's script starts three nats-servers "
                           "and three nodes; a killed node's class moves")


CHECKS = {
    "local_cluster": check_local_cluster,
    "systemd": check_systemd,
    "yaml": check_yaml,
    "flags": check_flags,
    "ports": check_ports,
    "probes": check_probes,
    "containerfile": check_containerfile,
    "nats": check_nats,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--source_dir", required=True)
    parser.add_argument("--circuitd")
    args = parser.parse_args()
    args.source_dir = os.path.abspath(args.source_dir)
    if args.check in ("systemd", "flags", "probes", "containerfile",
                      "local_cluster") and \
            not args.circuitd:
        parser.error(f"{args.check} needs --circuitd")
    return CHECKS[args.check](args)


if __name__ == "__main__":
    sys.exit(main())
