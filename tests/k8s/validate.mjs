// Offline validation of deploy/k8s: every YAML document against the Kubernetes and KEDA schemas
// (kubernetes-models, @kubernetes-models/keda), then the project's own rules: what the schemas
// cannot know (the cell map matches the StatefulSet, grace periods cover the programs' stop
// times, probes and policies point at the right pods and ports).
//   node tests/k8s/validate.mjs [--modules DIR] [--manifests DIR]
// DIR defaults: build/k8s-tools/node_modules (deploy/install-deps puts them there) and
// deploy/k8s. Never downloads anything. Exit 0 when every check passed, 1 otherwise.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const opt = { modules: path.join(root, "build/k8s-tools/node_modules"), manifests: path.join(root, "deploy/k8s") };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "");
  if (!(key in opt) || process.argv[i + 1] === undefined) {
    console.error(`validate.mjs: unknown argument ${process.argv[i]}`);
    process.exit(64);
  }
  opt[key] = path.resolve(process.argv[i + 1]);
}
if (!existsSync(path.join(opt.modules, "kubernetes-models"))) {
  console.error(`validate.mjs: no kubernetes-models in ${opt.modules}: run deploy/install-deps`);
  process.exit(1);
}
const require = createRequire(path.join(opt.modules, "noop.js"));
const YAML = require("yaml");

// The model module of each apiVersion; a kind it does not export is unknown, and unknown fails.
function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  let mod;
  if (group === "keda.sh") mod = `@kubernetes-models/keda/keda.sh/${version}`;
  else mod = group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
  try {
    return require(mod)[kind];
  } catch {
    return undefined;
  }
}

let passed = 0;
const failures = [];
function check(name, fn) {
  try {
    fn();
    passed++;
  } catch (e) {
    failures.push(`${name}: ${e.message}`);
  }
}
function expect(cond, why) {
  if (!cond) throw new Error(why);
}

// ---- parse and validate every document ------------------------------------------------------
function yamlFiles(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}
const rel = (p) => path.relative(opt.manifests, p);
const objects = []; // { file, doc }
let kustomization;
for (const file of yamlFiles(opt.manifests).sort()) {
  const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  docs.forEach((d, i) => {
    const where = `${rel(file)} document ${i + 1}`;
    check(`${where} parses`, () => {
      expect(d.errors.length === 0, d.errors.map((e) => e.message).join("; "));
    });
    const doc = d.toJS();
    if (doc === null || d.errors.length) return;
    if (doc.kind === "Kustomization") {
      kustomization = { file, doc };
      return;
    }
    check(`${where} (${doc.kind} ${doc.metadata?.name}) matches the ${doc.apiVersion} schema`, () => {
      const Model = modelFor(String(doc.apiVersion), String(doc.kind));
      expect(Model, `unknown kind ${doc.kind} in ${doc.apiVersion}`);
      new Model(doc).validate();
    });
    objects.push({ file, doc });
  });
}

// ---- lookups ---------------------------------------------------------------------------------
function find(kind, name) {
  const o = objects.find((x) => x.doc.kind === kind && (name === undefined || x.doc.metadata?.name === name));
  if (!o) throw new Error(`no ${kind}${name ? " " + name : ""} in ${opt.manifests}`);
  return o.doc;
}
const matches = (selector, labels) =>
  Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v) &&
  (selector.matchExpressions ?? []).every((e) => {
    const has = labels && e.key in labels;
    if (e.operator === "In") return has && e.values.includes(labels[e.key]);
    if (e.operator === "NotIn") return !has || !e.values.includes(labels[e.key]);
    if (e.operator === "Exists") return has;
    return !has; // DoesNotExist
  });
function arg(container, flag) {
  const a = container.args ?? [];
  const i = a.indexOf(flag);
  return i >= 0 ? a[i + 1] : undefined;
}
function seconds(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text ?? "");
  if (!m) throw new Error(`'${text}' is not a duration`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}
function portOf(container, port) {
  if (typeof port === "number") return port;
  const p = (container.ports ?? []).find((x) => x.name === port);
  if (!p) throw new Error(`container ${container.name} has no port named ${port}`);
  return p.containerPort;
}
const mainContainer = (podSpec, name) => {
  const c = podSpec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
// The seconds a preStop hook takes: only `sleep N` is understood (anything else fails, so a
// hook that waits longer cannot slip past the grace check).
function preStopSeconds(container) {
  const hook = container.lifecycle?.preStop;
  if (!hook) return 0;
  const cmd = hook.exec?.command ?? [];
  const sleep = hook.sleep?.seconds ?? (cmd[0] === "sleep" && cmd.length === 2 ? Number(cmd[1]) : NaN);
  if (!Number.isFinite(sleep)) throw new Error(`preStop of ${container.name} is not 'sleep N': cannot bound it`);
  return sleep;
}

// The broker's graceful stop after SIGTERM is bounded by a final fdatasync plus 250 ms of
// farewell and 1 s of socket linger (broker/reactor.cpp, shared/protocol/transport.h); 15 s
// is what deploy/fleet waits before SIGKILL, and what the pod must allow at least. The worker
// needs its --grace plus 10 s to hand back and exit (the systemd unit's TimeoutStopSec).
const BROKER_STOP_S = 15;
const WORKER_MARGIN_S = 10;

function finish() {
  for (const f of failures) console.log(`FAIL ${f}`);
  console.log(`k8s: ${passed} passed, ${failures.length} failed`);
  process.exit(failures.length ? 1 : 0);
}
let sts, brokerPod, broker, workerDeploy, worker, adminDeploy;
const namespace = kustomization?.doc.namespace;
try {
  sts = find("StatefulSet", "mandrill-broker");
  brokerPod = sts.spec.template;
  broker = mainContainer(brokerPod.spec, "broker");
  workerDeploy = find("Deployment", "mandrill-worker");
  worker = mainContainer(workerDeploy.spec.template.spec, "worker");
  adminDeploy = find("Deployment", "mandrill-admin");
} catch (e) {
  failures.push(`the objects the project's checks are about: ${e.message}`);
  finish();
}

// ---- the cell map ----------------------------------------------------------------------------
check("kustomization.yaml names a namespace and lists every manifest outside secrets/", () => {
  expect(kustomization, "no kustomization.yaml");
  expect(namespace, "kustomization.yaml sets no namespace (the cell map's DNS names need one)");
  const listed = new Set(kustomization.doc.resources ?? []);
  for (const r of listed) expect(existsSync(path.join(opt.manifests, r)), `lists ${r}, which does not exist`);
  for (const { file } of objects) {
    const r = rel(file);
    if (r.startsWith("secrets" + path.sep)) expect(!listed.has(r), `lists the template ${r}: it would overwrite real keys`);
    else expect(listed.has(r), `does not list ${r}`);
  }
  for (const o of objects) expect(o.doc.metadata?.namespace === undefined, `${rel(o.file)} names a namespace`);
});

check("cells-configmap.yaml is deploy/k8s/cell-map's output for the StatefulSet's replicas", () => {
  const cm = objects.find((o) => o.doc.kind === "ConfigMap" && o.doc.metadata.name === "mandrill-cells");
  expect(cm, "no ConfigMap mandrill-cells");
  const want = execFileSync("bash", [path.join(opt.manifests, "cell-map"), "--cells", String(sts.spec.replicas),
    "--namespace", String(namespace)], { encoding: "utf8" });
  expect(readFileSync(cm.file, "utf8") === want,
    `differs from 'deploy/k8s/cell-map --cells ${sts.spec.replicas} --namespace ${namespace}': regenerate it`);
});

// The rules of shared/cells/cell_map.cpp, and the endpoints the StatefulSet really serves.
function parseCellMap(text) {
  const cells = [];
  text.split("\n").forEach((raw, n) => {
    const w = raw.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);
    if (!w.length) return;
    expect(w.length === 2 || w.length === 3, `line ${n + 1}: expected NAME ENDPOINT [PUBLIC_KEY_FILE]`);
    expect(/^[A-Za-z0-9._-]{1,64}$/.test(w[0]), `line ${n + 1}: bad cell name ${w[0]}`);
    expect(/^tcp:\/\/[^*:]+:\d{1,5}$/.test(w[1]), `line ${n + 1}: ${w[1]} is not tcp://HOST:PORT`);
    cells.push({ name: w[0], endpoint: w[1], key: w[2] });
  });
  expect(cells.length > 0, "lists no cells");
  expect(new Set(cells.map((c) => c.name)).size === cells.length, "a cell name is listed twice");
  expect(new Set(cells.map((c) => c.endpoint)).size === cells.length, "an endpoint is listed twice");
  expect(new Set(cells.map((c) => Boolean(c.key))).size === 1, "some cells name a key file and some do not");
  return cells;
}
check("the cell map names every broker pod at its headless-Service DNS name and broker port", () => {
  const data = find("ConfigMap", "mandrill-cells").data;
  const svc = find("Service", sts.spec.serviceName);
  expect(svc.spec.clusterIP === "None", `Service ${svc.metadata.name} is not headless`);
  expect(matches({ matchLabels: svc.spec.selector }, brokerPod.metadata.labels), "the Service does not select the broker pods");
  const port = Number(arg(broker, "--bind")?.split(":").pop());
  expect(portOf(broker, "broker") === port, `--bind port ${port} is not the container's broker port`);
  expect(svc.spec.ports.some((p) => p.port === port), `the Service has no port ${port}`);
  const cells = parseCellMap(data.cells);
  expect(cells.length === sts.spec.replicas, `${cells.length} cells for ${sts.spec.replicas} replicas`);
  cells.forEach((c, i) => {
    const pod = `${sts.metadata.name}-${i}`;
    expect(c.name === pod, `cell ${i} is named ${c.name}, not after its pod ${pod}`);
    const ep = `tcp://${pod}.${svc.metadata.name}.${namespace}.svc.cluster.local:${port}`;
    expect(c.endpoint === ep, `cell ${c.name}: ${c.endpoint}, expected ${ep}`);
  });
  const publish = parseCellMap(data.publish);
  expect(publish.every((p) => cells.some((c) => c.endpoint === p.endpoint)), "publish lists a cell that cells does not");
});

// ---- stop times, probes, mounts --------------------------------------------------------------
check("the broker's grace period covers its preStop and its graceful stop", () => {
  const grace = brokerPod.spec.terminationGracePeriodSeconds;
  expect(Number.isInteger(grace), `terminationGracePeriodSeconds ${JSON.stringify(grace)} is not a number of seconds`);
  const pre = preStopSeconds(broker);
  expect(broker.lifecycle?.preStop, "no preStop hook");
  expect(grace >= pre + BROKER_STOP_S, `${grace} s < preStop ${pre} s + broker stop ${BROKER_STOP_S} s`);
});
check("the worker's grace period covers its --grace and the hand-back", () => {
  const grace = workerDeploy.spec.template.spec.terminationGracePeriodSeconds;
  const need = seconds(arg(worker, "--grace") ?? "30s") + WORKER_MARGIN_S + preStopSeconds(worker);
  expect(Number.isInteger(grace), `terminationGracePeriodSeconds ${JSON.stringify(grace)} is not a number of seconds`);
  expect(grace >= need, `${grace} s < --grace + ${WORKER_MARGIN_S} s = ${need} s`);
});
for (const [what, c] of [["broker", broker], ["worker", worker]]) {
  check(`the ${what}'s probes are /readyz and /healthz on its --metrics-bind port`, () => {
    const port = Number(arg(c, "--metrics-bind")?.split(":").pop());
    expect(port > 0, "no --metrics-bind HOST:PORT with a fixed port");
    for (const [probe, pathWanted] of [["readinessProbe", "/readyz"], ["livenessProbe", "/healthz"]]) {
      const get = c[probe]?.httpGet;
      expect(get, `no ${probe}.httpGet`);
      expect(get.path === pathWanted, `${probe} asks ${get.path}, not ${pathWanted}`);
      expect(portOf(c, get.port) === port, `${probe} port ${get.port} is not the metrics port ${port}`);
    }
  });
}
check("workers and mandrill-ctl take --cells from the mounted cell map, with the keys it names", () => {
  const cellsCm = find("ConfigMap", "mandrill-cells");
  const keyDir = path.posix.dirname(parseCellMap(cellsCm.data.cells)[0].key ?? "/");
  for (const pod of [workerDeploy.spec.template.spec, adminDeploy.spec.template.spec]) {
    const c = pod.containers[0];
    const mount = (c.volumeMounts ?? []).find((m) => pod.volumes.find((v) => v.name === m.name)?.configMap?.name === "mandrill-cells");
    expect(mount, `${c.name} does not mount ConfigMap mandrill-cells`);
    if (c.name === "worker") {
      expect(arg(c, "--broker") === undefined, "the worker names --broker as well as --cells");
      const file = arg(c, "--cells");
      expect(file && path.posix.dirname(file) === mount.mountPath, `--cells ${file} is not in ${mount.mountPath}`);
      expect(path.posix.basename(file) in cellsCm.data, `the ConfigMap has no key ${path.posix.basename(file)}`);
    }
    if (keyDir !== "/") expect((c.volumeMounts ?? []).some((m) => m.mountPath === keyDir), `${c.name} mounts nothing at ${keyDir}`);
  }
});
check("every Secret a pod mounts has a template in secrets/ holding the files copied from it", () => {
  for (const pod of [brokerPod.spec, workerDeploy.spec.template.spec, adminDeploy.spec.template.spec]) {
    for (const v of pod.volumes.filter((x) => x.secret)) {
      const s = objects.find((o) => o.doc.kind === "Secret" && o.doc.metadata.name === v.secret.secretName);
      expect(s && rel(s.file).startsWith("secrets"), `no template for Secret ${v.secret.secretName}`);
      const keys = Object.keys({ ...s.doc.data, ...s.doc.stringData });
      const mountPath = pod.initContainers[0].volumeMounts.find((m) => m.name === v.name).mountPath;
      const used = [...pod.initContainers, ...pod.containers].flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])])
        .join(" ").match(new RegExp(`${mountPath}/[\\w.-]+`, "g")) ?? [];
      for (const u of used) expect(keys.includes(path.posix.basename(u)), `${v.secret.secretName} has no ${path.posix.basename(u)}`);
    }
  }
});
check("the journal claims one volume per pod (ReadWriteOnce or ReadWriteOncePod)", () => {
  const claim = sts.spec.volumeClaimTemplates?.find((t) => broker.volumeMounts.some((m) => m.name === t.metadata.name));
  expect(claim, "no volumeClaimTemplate mounted by the broker");
  const modes = claim.spec.accessModes;
  expect(modes.length === 1 && ["ReadWriteOnce", "ReadWriteOncePod"].includes(modes[0]), `access modes ${modes}`);
  const dataDir = arg(broker, "--data-dir");
  const mount = broker.volumeMounts.find((m) => m.name === claim.metadata.name);
  expect(dataDir?.startsWith(mount.mountPath + "/"), `--data-dir ${dataDir} is not below ${mount.mountPath}`);
});

// ---- disruption, policy, scaling -------------------------------------------------------------
check("the PodDisruptionBudget allows one broker down at a time", () => {
  const pdb = find("PodDisruptionBudget");
  expect(pdb.spec.maxUnavailable === 1, `maxUnavailable ${pdb.spec.maxUnavailable}`);
  expect(matches(pdb.spec.selector, brokerPod.metadata.labels), "its selector misses the broker pods");
});
check("the NetworkPolicy selects the brokers and opens their port to clients only", () => {
  const np = find("NetworkPolicy", "mandrill-broker");
  expect(matches(np.spec.podSelector, brokerPod.metadata.labels), "podSelector misses the broker pods");
  expect(np.spec.policyTypes.includes("Ingress"), "no Ingress policy type");
  const brokerPort = portOf(broker, "broker");
  const metricsPort = portOf(broker, "metrics");
  const rules = np.spec.ingress.filter((r) => r.ports?.some((p) => p.port === brokerPort));
  expect(rules.length > 0, `no rule for the broker port ${brokerPort}`);
  for (const r of np.spec.ingress) expect(r.from?.length && r.ports?.length, "a rule open to any peer or any port");
  const admitted = (labels) => rules.some((r) => r.from.some((f) => f.podSelector && !f.namespaceSelector && matches(f.podSelector, labels)));
  expect(admitted(workerDeploy.spec.template.metadata.labels), "workers are not admitted");
  expect(admitted(adminDeploy.spec.template.metadata.labels), "the admin pod is not admitted");
  expect(admitted({ "mandrill.dev/role": "publisher" }), "publishers (mandrill.dev/role: publisher) are not admitted");
  expect(!admitted({ "app.kubernetes.io/name": "something-else" }), "unlabelled pods are admitted");
  const metricsRules = np.spec.ingress.filter((r) => r.ports.some((p) => p.port === metricsPort));
  expect(metricsRules.length > 0, `no rule for the metrics port ${metricsPort}`);
  const workerLabels = workerDeploy.spec.template.metadata.labels;
  expect(!metricsRules.some((r) => r.from.some((f) => f.podSelector && !f.namespaceSelector && matches(f.podSelector, workerLabels))),
    "the metrics port is open to the clients");
});
check("KEDA scales the worker Deployment on ready + unacked messages, per worker's credit", () => {
  const so = find("ScaledObject");
  expect(so.spec.scaleTargetRef.name === workerDeploy.metadata.name, `targets ${so.spec.scaleTargetRef.name}`);
  const t = so.spec.triggers.find((x) => x.type === "prometheus");
  expect(t, "no prometheus trigger");
  for (const m of ["mandrill_queue_messages_ready", "mandrill_queue_messages_unacked"]) {
    expect(t.metadata.query.includes(m), `the query does not use ${m}`);
  }
  expect(t.metadata.threshold === arg(worker, "--concurrency"), `threshold ${t.metadata.threshold} is not the worker's --concurrency`);
});
check("idle workers go first on scale-down: deletion-cost annotation, its keeper and its rights", () => {
  const tpl = workerDeploy.spec.template;
  expect("controller.kubernetes.io/pod-deletion-cost" in (tpl.metadata.annotations ?? {}), "no pod-deletion-cost annotation");
  const keeper = tpl.spec.containers.find((c) => (c.args ?? []).includes("mandrill-deletion-cost"));
  expect(keeper, "no container runs mandrill-deletion-cost");
  const url = keeper.env.find((e) => e.name === "MANDRILL_METRICS_URL")?.value ?? "";
  expect(url.includes(`:${portOf(worker, "metrics")}/metrics`), `${url} is not the worker's metrics port`);
  const sa = tpl.spec.serviceAccountName;
  const binding = objects.map((o) => o.doc).find((d) => d.kind === "RoleBinding" && d.subjects.some((s) => s.name === sa));
  expect(binding, `no RoleBinding for ${sa}`);
  const role = find("Role", binding.roleRef.name);
  expect(role.rules.some((r) => r.resources.includes("pods") && r.verbs.includes("patch")), "the Role cannot patch pods");
});
check("the image runs as the pods' user, from debian:12-slim", () => {
  const dockerfile = readFileSync(path.join(opt.manifests, "Dockerfile"), "utf8");
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  expect(froms.at(-1) === "debian:12-slim", `the runtime stage is ${froms.at(-1)}`);
  const user = /^USER\s+(\d+)/m.exec(dockerfile)?.[1];
  for (const pod of [brokerPod.spec, workerDeploy.spec.template.spec, adminDeploy.spec.template.spec]) {
    expect(String(pod.securityContext.runAsUser) === user, `runAsUser ${pod.securityContext.runAsUser}, image USER ${user}`);
  }
  for (const o of objects.filter((x) => x.doc.spec?.template?.spec)) {
    for (const c of [...(o.doc.spec.template.spec.initContainers ?? []), ...o.doc.spec.template.spec.containers]) {
      expect(c.image === kustomization.doc.images[0].name, `${c.name} uses ${c.image}, not the kustomized image`);
    }
  }
});

finish();
