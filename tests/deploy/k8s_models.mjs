/* SPDX-License-Identifier: Apache-2.0 */
// Validates the example manifests (deploy/examples/*.yaml: the chart rendered for
// values-dev.yaml) against the Kubernetes API schemas of npm `kubernetes-models`, rejects
// fields the schemas do not know, and checks how the objects fit together and with the
// daemon's configuration in the ConfigMap: probes on the admin port, drain time,
// ReadWriteOncePod, one writer, IdP egress, Service and Ingress wiring, no service links
// (enableServiceLinks: false), the ingress-nginx body limit against server.max_body_bytes,
// TSA roots with verify.require_timestamp, no registry.url / password_file in the ConfigMap.
//
// Both registry modes (docs/deployment.md, "Registry modes"): deploy/examples is the SQLite
// mode; deploy/examples/postgres holds the objects that differ in the PostgreSQL mode
// (scale-out), which replace those of the same kind and name, and the PVC is not rendered
// there. PostgreSQL mode: RollingUpdate, HPA owning the replicas (min >= 2), a PDB that
// lets drains through, preferred pod anti-affinity per node, no PVC or registry volume,
// CAPV_REGISTRY_URL from a Secret, NetworkPolicy egress to TCP 5432.
//
//   node tests/deploy/k8s_models.mjs [EXAMPLES_DIR]
//
// Then runs the same checks on deliberately broken copies and requires each to be caught,
// so the test is known to be able to fail.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const examplesDir = process.argv[2] ?? path.join(here, "..", "..", "deploy", "examples");

// apiVersion/kind -> the schema module of kubernetes-models (compiled validators)
const schemaGroups = {
  v1: "CoreV1",
  "apps/v1": "AppsV1",
  "networking.k8s.io/v1": "NetworkingV1",
  "policy/v1": "PolicyV1",
  "autoscaling/v2": "AutoscalingV2",
};

// The raw validators live in the package's _schemas/ (not in its "exports", so found
// next to the package's entry point).
const modelsDir = path.dirname(createRequire(import.meta.url).resolve("kubernetes-models"));

async function validatorFor(apiVersion, kind) {
  const group = schemaGroups[apiVersion];
  if (!group) return null;
  const file = path.join(modelsDir, "_schemas", `IoK8sApi${group}${kind}.mjs`);
  if (!fs.existsSync(file)) return null;
  return (await import(pathToFileURL(file).href)).validate;
}

// The compiled validators read every property their schema defines (`data.name`) and
// enumerate objects whose keys are free (labels, ConfigMap data). Watching those reads
// through proxies finds the keys no schema knows: misspelt or misplaced fields that the
// API server would drop or reject.
const ENUMERATED = Symbol("enumerated");

function watch(value, seenBy) {
  if (value === null || typeof value !== "object") return value;
  const seen = new Set();
  seenBy.set(value, seen);
  const children = new Map();
  return new Proxy(value, {
    get(target, prop, receiver) {
      if (typeof prop === "string") seen.add(prop);
      const v = Reflect.get(target, prop, receiver);
      if (v !== null && typeof v === "object") {
        if (!children.has(prop)) children.set(prop, watch(v, seenBy));
        return children.get(prop);
      }
      return v;
    },
    ownKeys(target) {
      seen.add(ENUMERATED);
      return Reflect.ownKeys(target);
    },
  });
}

function unknownFields(value, seenBy, where, out) {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, seenBy, `${where}[${i}]`, out));
    return;
  }
  const seen = seenBy.get(value);
  // never inspected (its schema accepts anything) or enumerated (free keys): no verdict
  const judged = seen && seen.size > 0 && !seen.has(ENUMERATED);
  for (const [k, v] of Object.entries(value)) {
    if (judged && !seen.has(k)) out.push(`${where}.${k}: unknown field`);
    unknownFields(v, seenBy, `${where}.${k}`, out);
  }
}

// The PostgreSQL-mode set: the SQLite set with the objects of `overlayDir` in place of those
// of the same kind and name, without the PVC (not rendered in that mode).
export function loadOverlay(base, overlayDir) {
  const over = loadDocs(overlayDir).map((d) => ({ ...d, file: `${path.basename(overlayDir)}/${d.file}` }));
  const key = (o) => `${o.kind}/${o.metadata?.name}`;
  const replaced = new Set(over.map((d) => key(d.obj)));
  return [...base.filter((d) => !replaced.has(key(d.obj)) && d.obj.kind !== "PersistentVolumeClaim"), ...over];
}

export function loadDocs(dir) {
  const docs = [];
  for (const f of fs.readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    for (const d of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8"))) {
      if (d.errors.length) throw new Error(`${f}: ${d.errors[0].message}`);
      const obj = d.toJS();
      if (obj) docs.push({ file: f, obj });
    }
  }
  return docs;
}

async function schemaErrors(docs) {
  const errors = [];
  for (const { file, obj } of docs) {
    const name = `${file}: ${obj.kind}/${obj.metadata?.name}`;
    const validate = await validatorFor(obj.apiVersion, obj.kind);
    if (!validate) {
      errors.push(`${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    const seenBy = new WeakMap();
    const ok = validate(watch(obj, seenBy));
    if (!ok)
      for (const e of validate.errors)
        errors.push(`${name}: ${e.instancePath || "/"} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
    const unknown = [];
    unknownFields(obj, seenBy, "", unknown);
    for (const u of unknown) errors.push(`${name}: ${u}`);
  }
  return errors;
}

// ---- wiring ------------------------------------------------------------------------------

const CONFIG_FILES = ["server", "auth", "cache", "tls", "registry", "trust", "verify",
  "backup", "logging", "shutdown"];

function portOf(hostPort, dflt) {
  if (!hostPort) return dflt;
  const m = /:(\d+)$/.exec(hostPort);
  return m ? Number(m[1]) : NaN;
}

function subset(sel, labels) {
  return Object.entries(sel ?? {}).every(([k, v]) => labels?.[k] === v);
}

function wiringErrors(docs, mode = "sqlite") {
  const pg = mode === "postgres";
  const errs = [];
  const find = (kind, name) => docs.map((d) => d.obj).filter((o) => o.kind === kind &&
    (name === undefined || o.metadata?.name === name));
  const one = (kind, name) => {
    const all = find(kind, name);
    if (all.length !== 1) errs.push(`${kind} ${name ?? ""}: expected exactly one, found ${all.length}`);
    return all[0];
  };

  const ns = one("Namespace", "cap-verifier");
  for (const { file, obj } of docs)
    if (obj.kind !== "Namespace" && obj.metadata?.namespace !== "cap-verifier")
      errs.push(`${file}: ${obj.kind}/${obj.metadata?.name} is not in namespace cap-verifier`);
  if (!ns) return errs;

  // the daemon's configuration
  const cm = one("ConfigMap", "cap-verifier-config");
  const cfg = {};
  if (cm) {
    const keys = Object.keys(cm.data ?? {}).sort();
    const want = CONFIG_FILES.map((f) => `${f}.yaml`).sort();
    if (JSON.stringify(keys) !== JSON.stringify(want))
      errs.push(`ConfigMap cap-verifier-config: keys ${keys.join(",")} are not ${want.join(",")}`);
    for (const [k, text] of Object.entries(cm.data ?? {})) {
      const doc = YAML.parse(text);
      const stem = k.replace(/\.ya?ml$/, "");
      if (!doc || typeof doc !== "object" || Object.keys(doc).length !== 1 || !(stem in doc))
        errs.push(`ConfigMap cap-verifier-config: ${k} must hold exactly the section ${stem}:`);
      else cfg[stem] = doc[stem] ?? {};
    }
  }
  const apiPort = portOf(cfg.server?.listen, 8080);
  const adminPort = portOf(cfg.server?.admin_listen, 9090);

  const dep = one("Deployment", "cap-verifier");
  const pvc = pg ? undefined : one("PersistentVolumeClaim", "cap-verifier-data");
  if (pg)
    for (const o of find("PersistentVolumeClaim"))
      errs.push(`PersistentVolumeClaim ${o.metadata?.name}: the PostgreSQL mode has no registry volume`);
  const svc = one("Service", "cap-verifier-service");
  if (!dep) return errs;
  const pod = dep.spec.template;
  const podLabels = pod.metadata?.labels ?? {};
  if (podLabels.app !== "cap-verifier") errs.push("Deployment: pod label app=cap-verifier missing");
  if (!subset(dep.spec.selector?.matchLabels, podLabels))
    errs.push("Deployment: selector does not match the pod labels");
  if (!pg) {
    if (dep.spec.replicas !== 1) errs.push(`Deployment: replicas ${dep.spec.replicas}, SQLite needs exactly 1 writer`);
    if (dep.spec.strategy?.type !== "Recreate")
      errs.push("Deployment: strategy must be Recreate (a ReadWriteOncePod volume cannot be handed over in a rolling update)");
  } else {
    if (dep.spec.strategy?.type !== "RollingUpdate")
      errs.push(`Deployment: strategy ${dep.spec.strategy?.type}, must be RollingUpdate with the PostgreSQL registry (no volume to hand over)`);
    if (find("HorizontalPodAutoscaler").length && dep.spec.replicas !== undefined)
      errs.push(`Deployment: replicas ${dep.spec.replicas} while the HPA owns the count: every helm upgrade would reset what it scaled to`);
    if (dep.spec.replicas !== undefined && !(dep.spec.replicas >= 1))
      errs.push(`Deployment: replicas ${dep.spec.replicas}, must be at least 1`);
    const terms = pod.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    if (!terms.some((t) => t.podAffinityTerm?.topologyKey === "kubernetes.io/hostname" &&
      Object.keys(t.podAffinityTerm?.labelSelector?.matchLabels ?? {}).length &&
      subset(t.podAffinityTerm.labelSelector.matchLabels, podLabels)))
      errs.push("Deployment: preferred pod anti-affinity (topologyKey kubernetes.io/hostname, the pod's labels) missing: replicas may share a node");
  }

  // service links would inject <SERVICE>_SERVICE_HOST variables: a Service capv-<section>...
  // gives CAPV_<SECTION>_..., an unknown key the daemon refuses at start
  if (pod.spec.enableServiceLinks !== false)
    errs.push("Deployment: enableServiceLinks must be false (a service link CAPV_<SECTION>_... stops the daemon)");
  if (cfg.registry && ("url" in cfg.registry || "password_file" in cfg.registry))
    errs.push("ConfigMap cap-verifier-config: registry.url / registry.password_file in the ConfigMap (the database belongs in a Secret, CAPV_REGISTRY_URL)");
  if (cfg.verify?.require_timestamp === true && !cfg.trust?.tsa_ca_file)
    errs.push("ConfigMap cap-verifier-config: verify.require_timestamp without TSA roots (trust.tsa_ca_file)");

  const c = pod.spec.containers?.[0] ?? {};
  const psc = pod.spec.securityContext ?? {};
  const csc = c.securityContext ?? {};
  if ((csc.runAsUser ?? psc.runAsUser) !== 65532) errs.push("Deployment: must run as uid 65532");
  if ((csc.runAsNonRoot ?? psc.runAsNonRoot) !== true) errs.push("Deployment: runAsNonRoot must be true");
  if (csc.readOnlyRootFilesystem !== true) errs.push("Deployment: readOnlyRootFilesystem must be true");
  if (csc.allowPrivilegeEscalation !== false) errs.push("Deployment: allowPrivilegeEscalation must be false");

  const named = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  const resolve = (p) => (typeof p === "string" ? named[p] : p);
  if (named.api !== apiPort) errs.push(`Deployment: container port api=${JSON.stringify(named.api)}, server.listen port is ${apiPort}`);
  if (named.admin !== adminPort) errs.push(`Deployment: container port admin=${JSON.stringify(named.admin)}, server.admin_listen port is ${adminPort}`);
  for (const [probe, wantPath] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"], ["startupProbe", "/healthz"]]) {
    const pr = c[probe];
    if (!pr) {
      if (probe !== "startupProbe") errs.push(`Deployment: ${probe} missing`);
      continue;
    }
    if (pr.httpGet?.path !== wantPath) errs.push(`Deployment: ${probe} path ${pr.httpGet?.path}, want ${wantPath}`);
    if (resolve(pr.httpGet?.port) !== adminPort)
      errs.push(`Deployment: ${probe} probes port ${pr.httpGet?.port}, not the admin port ${adminPort}`);
  }
  const grace = cfg.shutdown?.grace_seconds ?? 5;
  const timeout = cfg.shutdown?.timeout_seconds ?? 25;
  const tgps = pod.spec.terminationGracePeriodSeconds ?? 30;
  if (!(tgps > grace + timeout))
    errs.push(`Deployment: terminationGracePeriodSeconds ${tgps} must exceed shutdown.grace_seconds + shutdown.timeout_seconds = ${grace + timeout}`);

  // the registry database: only in the PostgreSQL mode, its URL only from a Secret
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
  const url = env.CAPV_REGISTRY_URL;
  if (!pg && (url || env.CAPV_REGISTRY_PASSWORD_FILE))
    errs.push("Deployment: CAPV_REGISTRY_URL / CAPV_REGISTRY_PASSWORD_FILE set in the SQLite mode");
  if (pg && !url) errs.push("Deployment: CAPV_REGISTRY_URL missing: the PostgreSQL mode has no database");
  if (pg && url && (url.value !== undefined || !url.valueFrom?.secretKeyRef?.name || !url.valueFrom?.secretKeyRef?.key))
    errs.push("Deployment: CAPV_REGISTRY_URL must come from a Secret (valueFrom.secretKeyRef name and key), never a plain value");

  const args = c.args ?? [];
  const ci = args.indexOf("--config-dir");
  const configDir = ci >= 0 ? args[ci + 1] : "/etc/cap-verifier";
  const vols = Object.fromEntries((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const mounts = (c.volumeMounts ?? []).map((m) => ({ ...m, volume: vols[m.name] }));
  for (const m of mounts) if (!m.volume) errs.push(`Deployment: mount ${m.name} has no volume`);
  const cfgMount = mounts.find((m) => m.mountPath === configDir);
  if (cfgMount?.volume?.configMap?.name !== "cap-verifier-config")
    errs.push(`Deployment: ${configDir} (--config-dir) is not ConfigMap cap-verifier-config`);
  const under = (p, m) => p === m.mountPath || p.startsWith(m.mountPath.replace(/\/$/, "") + "/");
  const mountOf = (p) => mounts.filter((m) => under(p, m)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!pg)
    for (const [what, p] of [["registry.path", cfg.registry?.path ?? "./data/registry.sqlite"],
      ["backup.dir", cfg.backup?.dir ?? "./data/backups"]]) {
      const m = p.startsWith("/") ? mountOf(p) : undefined;
      if (!m || m.readOnly || m.volume?.persistentVolumeClaim?.claimName !== pvc?.metadata?.name)
        errs.push(`Deployment: ${what} ${p} is not on the writable registry volume`);
    }
  else
    for (const v of Object.values(vols))
      if (v.persistentVolumeClaim)
        errs.push(`Deployment: volume ${v.name} is a PersistentVolumeClaim: the PostgreSQL mode has no registry volume`);
  const pwFile = env.CAPV_REGISTRY_PASSWORD_FILE?.value;
  if (pg && env.CAPV_REGISTRY_PASSWORD_FILE && !(pwFile?.startsWith("/") && mountOf(pwFile)?.volume?.secret))
    errs.push(`Deployment: CAPV_REGISTRY_PASSWORD_FILE ${pwFile} is on no mounted Secret`);
  const tmp = mounts.find((m) => m.mountPath === "/tmp");
  if (!tmp || tmp.readOnly || !tmp.volume?.emptyDir)
    errs.push("Deployment: /tmp must be a writable emptyDir (read-only root filesystem)");
  for (const [section, key] of [["tls", "cert_file"], ["tls", "key_file"], ["tls", "client_ca_file"],
    ["trust", "dir"], ["trust", "policy_dir"], ["trust", "tsa_ca_file"], ["auth", "ca_file"],
    ["registry", "signing_key_file"]]) {
    const p = cfg[section]?.[key];
    if (!p) continue;
    const m = mountOf(p);
    if (!m || !(m.volume?.secret || m.volume?.configMap))
      errs.push(`Deployment: ${section}.${key} ${p} is on no mounted Secret or ConfigMap`);
  }
  for (const v of Object.values(vols))
    if (v.configMap && !find("ConfigMap", v.configMap.name).length)
      errs.push(`Deployment: volume ${v.name} needs ConfigMap ${v.configMap.name}, not among the examples`);

  if (pvc && JSON.stringify(pvc.spec.accessModes) !== '["ReadWriteOncePod"]')
    errs.push(`PersistentVolumeClaim: accessModes ${JSON.stringify(pvc.spec.accessModes)}, must be ["ReadWriteOncePod"] (one SQLite writer)`);

  if (svc) {
    const p = (svc.spec.ports ?? []).find((x) => x.port === 8080);
    if (!p || resolve(p.targetPort ?? p.port) !== apiPort)
      errs.push(`Service cap-verifier-service: port 8080 must target the API port ${apiPort}`);
    if (!subset(svc.spec.selector, podLabels) || !Object.keys(svc.spec.selector ?? {}).length)
      errs.push("Service cap-verifier-service: selector does not match the pod");
  }

  const np = one("NetworkPolicy");
  if (np) {
    if (!subset(np.spec.podSelector?.matchLabels, podLabels)) errs.push("NetworkPolicy: podSelector does not match the pod");
    const types = np.spec.policyTypes ?? [];
    if (!types.includes("Ingress") || !types.includes("Egress")) errs.push("NetworkPolicy: policyTypes must be Ingress and Egress");
    const allows = (rules, proto, port) => (rules ?? []).some((r) => !r.ports || r.ports.length === 0 ||
      r.ports.some((p) => (p.protocol ?? "TCP") === proto && (p.port === undefined || resolve(p.port) === port)));
    if (!allows(np.spec.ingress, "TCP", apiPort)) errs.push(`NetworkPolicy: ingress to the API port ${apiPort} not allowed`);
    if (!allows(np.spec.egress, "UDP", 53) || !allows(np.spec.egress, "TCP", 53))
      errs.push("NetworkPolicy: egress to DNS (UDP and TCP 53) not allowed");
    if (pg && !allows(np.spec.egress, "TCP", 5432))
      errs.push("NetworkPolicy: egress to the PostgreSQL registry (TCP 5432) not allowed");
    if (cfg.auth?.enabled === true) {
      const u = new URL(cfg.auth.jwks_url);
      if (u.protocol === "https:" || u.protocol === "http:") {
        const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
        if (!allows(np.spec.egress, "TCP", port))
          errs.push(`NetworkPolicy: egress to the IdP (${u.host}, TCP ${port}) not allowed: the JWKS cannot be fetched`);
      }
    }
  }

  const ing = one("Ingress");
  if (ing) {
    const tls = ing.spec.tls ?? [];
    const hosts = (ing.spec.rules ?? []).map((r) => r.host);
    if (!tls.length || !tls.every((t) => t.secretName) || !hosts.every((h) => tls.some((t) => t.hosts?.includes(h))))
      errs.push("Ingress: every host must be served with tls (hosts + secretName)");
    for (const r of ing.spec.rules ?? [])
      for (const p of r.http?.paths ?? [])
        if (p.backend?.service?.name !== svc?.metadata?.name || p.backend?.service?.port?.number !== 8080)
          errs.push("Ingress: backend must be cap-verifier-service port 8080");
    // ingress-nginx refuses bodies over proxy-body-size (default 1m; 0 = no limit)
    if (ing.spec.ingressClassName === "nginx") {
      const size = String(ing.metadata?.annotations?.["nginx.ingress.kubernetes.io/proxy-body-size"] ?? "1m");
      const m = /^([0-9]+)([kKmMgG]?)$/.exec(size.trim());
      const bytes = m ? Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 })[m[2].toLowerCase()] : NaN;
      const maxBody = cfg.server?.max_body_bytes ?? 16777216;
      if (!(bytes === 0 || bytes >= maxBody))
        errs.push(`Ingress: proxy-body-size ${size} is below server.max_body_bytes ${maxBody} (nginx answers 413 first)`);
    }
  }

  const pdb = one("PodDisruptionBudget");
  const hpa = one("HorizontalPodAutoscaler");
  if (pdb) {
    if (!subset(pdb.spec.selector?.matchLabels, podLabels)) errs.push("PodDisruptionBudget: selector does not match the pod");
    if (dep.spec.replicas === 1 && pdb.spec.minAvailable !== undefined && pdb.spec.minAvailable !== 0)
      errs.push("PodDisruptionBudget: minAvailable with one replica blocks every node drain");
    // the fewest replicas the Deployment runs: the HPA's floor, else its replicas
    const floor = hpa ? (hpa.spec.minReplicas ?? 1) : (dep.spec.replicas ?? 1);
    if (pg && pdb.spec.minAvailable !== undefined && !(typeof pdb.spec.minAvailable === "number" && pdb.spec.minAvailable < floor))
      errs.push(`PodDisruptionBudget: minAvailable ${pdb.spec.minAvailable} with as few as ${floor} replicas blocks node drains`);
    if (pg && pdb.spec.minAvailable === undefined && !(pdb.spec.maxUnavailable >= 1))
      errs.push(`PodDisruptionBudget: maxUnavailable ${pdb.spec.maxUnavailable} blocks node drains (want 1)`);
  }

  if (hpa) {
    const t = hpa.spec.scaleTargetRef ?? {};
    if (t.kind !== "Deployment" || t.name !== "cap-verifier") errs.push("HorizontalPodAutoscaler: must target Deployment cap-verifier");
    if (!pg && (hpa.spec.maxReplicas !== 1 || (hpa.spec.minReplicas ?? 1) !== 1))
      errs.push(`HorizontalPodAutoscaler: minReplicas/maxReplicas ${hpa.spec.minReplicas}/${hpa.spec.maxReplicas}: the SQLite registry allows one writer (1/1)`);
    if (pg && !((hpa.spec.minReplicas ?? 1) >= 2 && hpa.spec.maxReplicas >= (hpa.spec.minReplicas ?? 1)))
      errs.push(`HorizontalPodAutoscaler: minReplicas/maxReplicas ${hpa.spec.minReplicas}/${hpa.spec.maxReplicas}: the PostgreSQL mode runs at least 2 replicas (minReplicas >= 2 <= maxReplicas)`);
  }
  return errs;
}

// ---- run ---------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
function report(ok, what, details = []) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) for (const d of details) console.log(`     ${d}`);
}

const docs = loadDocs(examplesDir);
report(docs.length >= 10, `loaded ${docs.length} objects from ${path.relative(process.cwd(), examplesDir) || examplesDir}`);
const schema = await schemaErrors(docs);
report(schema.length === 0, "every object is valid for its Kubernetes API schema, with no unknown fields", schema);
const wiring = wiringErrors(docs);
report(wiring.length === 0, "the objects fit together and with the daemon's configuration", wiring);

// The PostgreSQL mode (examples/postgres over the SQLite set).
const pgDir = path.join(examplesDir, "postgres");
const pgDocs = loadOverlay(docs, pgDir);
report(fs.existsSync(pgDir) && pgDocs.some((d) => d.file.startsWith("postgres/")),
  `PostgreSQL mode: ${pgDocs.length} objects (${pgDocs.filter((d) => d.file.startsWith("postgres/")).length} from ${path.relative(process.cwd(), pgDir) || pgDir})`);
const pgSchema = await schemaErrors(pgDocs);
report(pgSchema.length === 0, "PostgreSQL mode: every object is valid for its Kubernetes API schema, with no unknown fields", pgSchema);
const pgWiring = wiringErrors(pgDocs, "postgres");
report(pgWiring.length === 0, "PostgreSQL mode: the objects fit together (RollingUpdate, HPA, PDB, anti-affinity, no PVC, URL from a Secret, egress 5432)", pgWiring);
const pgHpa = pgDocs.find((d) => d.obj.kind === "HorizontalPodAutoscaler")?.obj;
report(pgHpa?.spec.minReplicas === 2 && pgHpa?.spec.maxReplicas === 20,
  "PostgreSQL mode: the HPA scales 2..20 (docs/runbook.md, \"Scale\")", [`minReplicas/maxReplicas ${pgHpa?.spec.minReplicas}/${pgHpa?.spec.maxReplicas}`]);

// Broken copies: each must be caught, with a message containing `expect`.
const clone = () => structuredClone(docs);
const get = (ds, kind) => ds.find((d) => d.obj.kind === kind).obj;
const container = (ds) => get(ds, "Deployment").spec.template.spec.containers[0];
const mutations = [
  ["a misplaced container field", (ds) => { container(ds).livenesProbe = {}; }, "unknown field"],
  ["a string containerPort", (ds) => { container(ds).ports[0].containerPort = "8080"; }, "{\"type\":\"integer\"}"],
  ["the liveness probe on the API port", (ds) => { container(ds).livenessProbe.httpGet.port = "api"; }, "not the admin port"],
  ["the readiness probe on /healthz", (ds) => { container(ds).readinessProbe.httpGet.path = "/healthz"; }, "want /readyz"],
  ["a ReadWriteOnce volume", (ds) => { get(ds, "PersistentVolumeClaim").spec.accessModes = ["ReadWriteOnce"]; }, "ReadWriteOncePod"],
  ["two replicas", (ds) => { get(ds, "Deployment").spec.replicas = 2; }, "1 writer"],
  ["no IdP egress", (ds) => { get(ds, "NetworkPolicy").spec.egress = get(ds, "NetworkPolicy").spec.egress.slice(0, 1); }, "egress to the IdP"],
  ["no DNS egress", (ds) => { get(ds, "NetworkPolicy").spec.egress = get(ds, "NetworkPolicy").spec.egress.slice(1); }, "DNS"],
  ["a grace period equal to the drain time", (ds) => { get(ds, "Deployment").spec.template.spec.terminationGracePeriodSeconds = 30; }, "terminationGracePeriodSeconds"],
  ["HPA maxReplicas 3", (ds) => { get(ds, "HorizontalPodAutoscaler").spec.maxReplicas = 3; }, "one writer"],
  ["the Service targeting the admin port", (ds) => { get(ds, "Service").spec.ports[0].targetPort = "admin"; }, "must target the API port"],
  ["an Ingress without TLS", (ds) => { delete get(ds, "Ingress").spec.tls; }, "tls"],
  ["a ConfigMap without cache.yaml", (ds) => { delete get(ds, "ConfigMap").data["cache.yaml"]; }, "keys"],
  ["the TLS Secret not mounted", (ds) => {
    const c = container(ds);
    c.volumeMounts = c.volumeMounts.filter((m) => m.name !== "tls");
  }, "tls.cert_file"],
  ["the registry on a read-only mount", (ds) => { container(ds).volumeMounts.find((m) => m.mountPath === "/data").readOnly = true; }, "registry.path"],
];
mutations.push(["service links on", (ds) => { delete get(ds, "Deployment").spec.template.spec.enableServiceLinks; }, "enableServiceLinks"]);
mutations.push(["nginx's default body limit", (ds) => {
  delete get(ds, "Ingress").metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"];
}, "proxy-body-size 1m"]);
mutations.push(["a database URL in the ConfigMap", (ds) => {
  get(ds, "ConfigMap").data["registry.yaml"] += "  url: postgresql://capverify@db/capverify\n";
}, "registry.url"]);
mutations.push(["required timestamps without TSA roots", (ds) => {
  get(ds, "ConfigMap").data["verify.yaml"] = get(ds, "ConfigMap").data["verify.yaml"].replace("require_timestamp: false", "require_timestamp: true");
}, "require_timestamp"]);
mutations.push(["a database URL in the SQLite mode", (ds) => {
  container(ds).env = [{ name: "CAPV_REGISTRY_URL", valueFrom: { secretKeyRef: { name: "db", key: "url" } } }];
}, "SQLite mode"]);
for (const [what, mutate, expect] of mutations) {
  const ds = clone();
  mutate(ds);
  const errs = [...(await schemaErrors(ds)), ...wiringErrors(ds)];
  report(errs.some((e) => e.includes(expect)), `self-test: ${what} is caught (${expect})`,
    errs.length ? errs : ["no error reported"]);
}

const pgEnv = (ds, name) => container(ds).env.find((e) => e.name === name);
const pgMutations = [
  ["the PVC rendered", (ds) => { ds.push(structuredClone(docs.find((d) => d.obj.kind === "PersistentVolumeClaim"))); }, "no registry volume"],
  ["the registry volume mounted", (ds) => {
    get(ds, "Deployment").spec.template.spec.volumes.push({ name: "data", persistentVolumeClaim: { claimName: "cap-verifier-data" } });
    container(ds).volumeMounts.push({ name: "data", mountPath: "/data" });
  }, "PersistentVolumeClaim"],
  ["strategy Recreate", (ds) => { get(ds, "Deployment").spec.strategy = { type: "Recreate" }; }, "RollingUpdate"],
  ["replicas set next to the HPA", (ds) => { get(ds, "Deployment").spec.replicas = 3; }, "HPA owns the count"],
  ["HPA minReplicas 1", (ds) => { get(ds, "HorizontalPodAutoscaler").spec.minReplicas = 1; }, "at least 2 replicas"],
  ["HPA maxReplicas below minReplicas", (ds) => { get(ds, "HorizontalPodAutoscaler").spec.maxReplicas = 1; }, "at least 2 replicas"],
  ["a PDB with minAvailable = minReplicas", (ds) => {
    const p = get(ds, "PodDisruptionBudget");
    delete p.spec.maxUnavailable;
    p.spec.minAvailable = 2;
  }, "blocks node drains"],
  ["no pod anti-affinity", (ds) => { delete get(ds, "Deployment").spec.template.spec.affinity; }, "anti-affinity"],
  ["the database URL as a plain value", (ds) => {
    const e = pgEnv(ds, "CAPV_REGISTRY_URL");
    delete e.valueFrom;
    e.value = "postgresql://capverify:secret@db/capverify";
  }, "from a Secret"],
  ["no database URL", (ds) => {
    container(ds).env = container(ds).env.filter((e) => e.name !== "CAPV_REGISTRY_URL");
  }, "CAPV_REGISTRY_URL missing"],
  ["the password file not mounted", (ds) => {
    container(ds).volumeMounts = container(ds).volumeMounts.filter((m) => m.name !== "registry-db-password");
  }, "CAPV_REGISTRY_PASSWORD_FILE"],
  ["no database egress", (ds) => {
    const np = get(ds, "NetworkPolicy");
    np.spec.egress = np.spec.egress.filter((r) => !(r.ports ?? []).some((p) => p.port === 5432));
  }, "TCP 5432"],
];
for (const [what, mutate, expect] of pgMutations) {
  const ds = structuredClone(pgDocs);
  mutate(ds);
  const errs = [...(await schemaErrors(ds)), ...wiringErrors(ds, "postgres")];
  report(errs.some((e) => e.includes(expect)), `self-test (PostgreSQL mode): ${what} is caught (${expect})`,
    errs.length ? errs : ["no error reported"]);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
