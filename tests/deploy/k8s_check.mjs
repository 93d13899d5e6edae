// Offline checks of the Kubernetes manifests in deploy/k8s (docs/deploy-k8s.md):
//
// 1. the Kubernetes API schemas: each object is validated by kubernetes-models
//    (validators compiled from the Kubernetes OpenAPI document: types,
//    required fields, enums, quantity formats);
// 2. strict fields: those validators accept unknown keys, which the API
//    server rejects (kubectl's strict field validation), so every key is
//    also looked up in the model's type declarations, the same OpenAPI
//    definitions written out per object;
// 3. what the schemas cannot say and the recipe relies on: selectors match
//    their pods, Services reach a named container port, probes hit
//    /healthz, tokens come from the Secret, workers ask for their device
//    and get more grace than their shutdown timeout.
//
// checkObjects() returns a list of error strings (empty when all is well),
// each naming the file, the object and the path.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = join(HERE, 'node_modules');
export const K8S_DIR = resolve(HERE, '..', '..', 'deploy', 'k8s');

/** Every object of every deploy/k8s/*.yaml: [{file, doc}]. */
export function loadManifests(dir = K8S_DIR) {
  const out = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
    const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8'));
    for (const d of docs) {
      if (d.errors.length) throw new Error(`${f}: ${d.errors.map((e) => e.message).join('; ')}`);
      const obj = d.toJS();
      if (obj !== null) out.push({ file: f, doc: obj });
    }
  }
  return out;
}

// ---- 1. the schemas ------------------------------------------------------------

/** kubernetes-models/<group/version>/<Kind>: "v1" is the core group. */
async function modelOf(apiVersion, kind) {
  if (!/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion ?? '') || !/^[A-Z]\w*$/.test(kind ?? ''))
    return null;
  try {
    const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
    return mod[kind] ?? null;
  } catch {
    return null;
  }
}

// ---- 2. strict fields, from the models' declarations ---------------------------

const dtsCache = new Map();

/** The interfaces, exported aliases and imports of one .d.ts file. */
function parseDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const imports = new Map();
  for (const m of text.matchAll(/import \{([^}]*)\} from "([^"]+)"/g))
    for (const name of m[1].split(',').map((s) => s.trim()).filter(Boolean))
      imports.set(name, m[2].startsWith('.')
        ? resolve(dirname(file), m[2].replace(/\.js$/, '') + '.d.ts')
        : join(NODE_MODULES, m[2].replace(/\.js$/, '') + '.d.ts'));
  const aliases = new Map(); // exported name -> local interface name
  for (const m of text.matchAll(/export type \{([^}]*)\}/g))
    for (const part of m[1].split(',')) {
      const [local, exported] = part.split(' as ').map((s) => s.trim());
      if (exported) aliases.set(exported, local);
    }
  const interfaces = new Map();
  for (const m of text.matchAll(/export interface (\w+)(?: extends ([\w, ]+))? \{/g)) {
    let depth = 1, i = m.index + m[0].length;
    const start = i;
    for (; depth > 0 && i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    interfaces.set(m[1], { body: text.slice(start, i - 1), extends: m[2] ?? '' });
  }
  const parsed = { imports, aliases, interfaces };
  dtsCache.set(file, parsed);
  return parsed;
}

/** Splits an interface body into its members at depth-0 semicolons. */
function members(body) {
  const out = [];
  let depth = 0, cur = '';
  for (const ch of body) {
    if ('{<('.includes(ch)) depth++;
    if ('}>)'.includes(ch)) depth--;
    if (ch === ';' && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** A type expression as a shape: {ref}, {fields} (an inline object), {array},
 * {map} or {any} (scalars, unions). */
function shapeOf(type, file) {
  type = type.trim();
  let m;
  if ((m = type.match(/^Array<([\s\S]+)>$/))) return { array: shapeOf(m[1], file) };
  if ((m = type.match(/^\{\s*\[key: string\]:\s*([\s\S]+?);?\s*\}$/))) return { map: shapeOf(m[1], file) };
  if ((m = type.match(/^\{([\s\S]*)\}$/))) return { fields: fieldsOfBody(m[1], file) };
  if (/^I\w+$/.test(type)) {
    const target = parseDts(file).imports.get(type);
    return target ? { ref: { file: target, name: type } } : { any: true };
  }
  return { any: true };
}

/** The members of an interface body (or an inline object type): name -> shape. */
function fieldsOfBody(body, file) {
  const fields = new Map();
  for (const mem of members(body)) {
    const m = mem.match(/^"?([\w$.-]+)"?\??:\s*([\s\S]+)$/);
    if (m) fields.set(m[1], shapeOf(m[2], file));
  }
  return fields;
}

/** The known fields of an interface: name -> shape, or null for a type alias. */
function fieldsOf(file, name) {
  const dts = parseDts(file);
  const local = dts.aliases.get(name) ?? name;
  const iface = dts.interfaces.get(local);
  if (!iface) return null; // e.g. Quantity, IntOrString: scalar aliases
  const fields = fieldsOfBody(iface.body, file);
  if (/\bTypeMeta\b/.test(iface.extends)) {
    fields.set('apiVersion', { any: true });
    fields.set('kind', { any: true });
  }
  return fields;
}

function strictWalk(value, shape, path, errors) {
  if (value === null || value === undefined || shape.any) return;
  if (shape.array) {
    if (Array.isArray(value)) value.forEach((v, i) => strictWalk(v, shape.array, `${path}/${i}`, errors));
    return;
  }
  if (shape.map) {
    if (typeof value === 'object')
      for (const [k, v] of Object.entries(value)) strictWalk(v, shape.map, `${path}/${k}`, errors);
    return;
  }
  const fields = shape.fields ?? fieldsOf(shape.ref.file, shape.ref.name);
  if (!fields || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) errors.push(`${path}/${k}: unknown field`);
    else strictWalk(v, fields.get(k), `${path}/${k}`, errors);
  }
}

function topShape(apiVersion, kind) {
  const file = join(NODE_MODULES, 'kubernetes-models', apiVersion, `${kind}.d.ts`);
  return { ref: { file, name: `I${kind}` } };
}

// ---- 3. the recipe's own invariants ---------------------------------------------

const QUALIFIED = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const STANDARD_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);

function podSpecOf(doc) {
  return doc.spec?.template?.spec;
}

function invariants(objs) {
  const errors = [];
  const byKind = (k) => objs.filter((o) => o.doc.kind === k);
  const where = (o) => `${o.file}: ${o.doc.kind} ${o.doc.metadata?.name}`;
  const secrets = new Map(byKind('Secret').map((o) => [o.doc.metadata.name,
    new Set([...Object.keys(o.doc.data ?? {}), ...Object.keys(o.doc.stringData ?? {})])]));

  for (const o of objs) {
    if (o.doc.kind !== 'Namespace' && o.doc.metadata?.namespace !== 'qlab')
      errors.push(`${where(o)}: not in namespace qlab`);
  }
  const workloads = [...byKind('StatefulSet'), ...byKind('Deployment')];
  for (const o of workloads) {
    const spec = o.doc.spec, pod = podSpecOf(o.doc);
    const labels = spec.template?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(spec.selector?.matchLabels ?? {}))
      if (labels[k] !== v) errors.push(`${where(o)}: selector ${k}=${v} does not match the pod labels`);
    const sc = pod?.securityContext ?? {};
    if (sc.runAsNonRoot !== true) errors.push(`${where(o)}: pods must set runAsNonRoot`);
    const mountable = new Set([...(pod?.volumes ?? []).map((v) => v.name),
      ...(spec.volumeClaimTemplates ?? []).map((v) => v.metadata?.name)]);
    for (const c of pod?.containers ?? []) {
      for (const m of c.volumeMounts ?? [])
        if (!mountable.has(m.name)) errors.push(`${where(o)}: mount ${m.name} names no volume`);
      for (const e of c.env ?? []) {
        if (/TOKEN/.test(e.name) && !/_FILE$/.test(e.name) && e.value !== undefined)
          errors.push(`${where(o)}: ${e.name} is inline; tokens belong in the Secret`);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !secrets.get(ref.name)?.has(ref.key))
          errors.push(`${where(o)}: ${e.name} reads ${ref.name}/${ref.key}, which no Secret defines`);
      }
      for (const v of pod.volumes ?? [])
        for (const it of v.secret?.items ?? [])
          if (!secrets.get(v.secret.secretName)?.has(it.key))
            errors.push(`${where(o)}: volume ${v.name} reads ${v.secret.secretName}/${it.key}, which no Secret defines`);
      const lim = c.resources?.limits ?? {}, req = c.resources?.requests ?? {};
      for (const r of new Set([...Object.keys(lim), ...Object.keys(req)])) {
        if (!QUALIFIED.test(r)) errors.push(`${where(o)}: resource name ${r} is not a qualified name`);
        // Extended resources (devices) are set as limits; a request must equal it.
        if (!STANDARD_RESOURCES.has(r) && !r.startsWith('hugepages-')) {
          if (lim[r] === undefined) errors.push(`${where(o)}: device resource ${r} must be a limit`);
          else if (req[r] !== undefined && String(req[r]) !== String(lim[r]))
            errors.push(`${where(o)}: device resource ${r}: request and limit differ`);
        }
      }
    }
  }

  // The server: one replica, its state on a claim, probes on /healthz, its
  // token file mounted from the Secret, reachable through a Service.
  const servers = byKind('StatefulSet').filter((o) => o.doc.metadata.name === 'qlab-server');
  if (servers.length !== 1) errors.push('no StatefulSet qlab-server');
  for (const o of servers) {
    const spec = o.doc.spec, pod = podSpecOf(o.doc), c = pod.containers[0];
    if (spec.replicas !== 1) errors.push(`${where(o)}: SQLite has one writer: replicas must be 1`);
    const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const g = c[probe]?.httpGet;
      if (!g) errors.push(`${where(o)}: no ${probe}`);
      else if (g.path !== '/healthz') errors.push(`${where(o)}: ${probe} on ${g.path}, not /healthz`);
      else if (typeof g.port === 'string' ? !ports.has(g.port) : ![...ports.values()].includes(g.port))
        errors.push(`${where(o)}: ${probe} port ${g.port} is not a container port`);
    }
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    const listen = env.QLAB_LISTEN ?? '';
    if (ports.get('http') !== Number(listen.split(':').pop()))
      errors.push(`${where(o)}: QLAB_LISTEN ${listen} is not the http port ${ports.get('http')}`);
    const db = env.QLAB_DB ?? '', tf = env.QLAB_TOKEN_FILE ?? '';
    const claim = (spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name);
    const mounts = c.volumeMounts ?? [];
    if (!mounts.some((m) => claim.includes(m.name) && db.startsWith(m.mountPath + '/')))
      errors.push(`${where(o)}: the database ${db} is not on a volume claim`);
    const tm = mounts.find((m) => tf.startsWith(m.mountPath + '/'));
    const tv = tm && pod.volumes.find((v) => v.name === tm.name);
    if (!tv?.secret || !(tv.secret.items ?? []).some((it) => `${tm.mountPath}/${it.path}` === tf))
      errors.push(`${where(o)}: the token file ${tf} does not come from a Secret`);
    if (!byKind('Service').some((s) => s.doc.metadata.name === spec.serviceName && s.doc.spec.clusterIP === 'None'))
      errors.push(`${where(o)}: serviceName ${spec.serviceName} is not a headless Service`);
  }
  for (const s of byKind('Service')) {
    const sel = s.doc.spec.selector ?? {};
    const targets = workloads.filter((w) => Object.entries(sel).every(([k, v]) => w.doc.spec.template.metadata.labels?.[k] === v));
    if (!targets.length) errors.push(`${where(s)}: its selector matches no pods`);
    for (const p of s.doc.spec.ports ?? [])
      for (const w of targets)
        if (!podSpecOf(w.doc).containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)))
          errors.push(`${where(s)}: targetPort ${p.targetPort} is no container port of ${w.doc.metadata.name}`);
  }

  // The workers: a device each, the server's Service, grace to hand runs back.
  const svc = new Map(byKind('Service').map((s) => [s.doc.metadata.name, (s.doc.spec.ports ?? []).map((p) => p.port)]));
  const devices = { 'qlab-worker-gpu': /^nvidia\.com\/gpu$/, 'qlab-worker-fpga': /^xilinx\.com\/fpga-/ };
  for (const [name, re] of Object.entries(devices)) {
    const o = byKind('Deployment').find((d) => d.doc.metadata.name === name);
    if (!o) {
      errors.push(`no Deployment ${name}`);
      continue;
    }
    const pod = podSpecOf(o.doc), c = pod.containers[0];
    const dev = Object.entries(c.resources?.limits ?? {}).filter(([r]) => re.test(r));
    if (dev.length !== 1 || Number(dev[0][1]) !== 1)
      errors.push(`${where(o)}: must ask for exactly one ${re.source} device as a limit`);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
    const url = env.QLAB_SERVER?.value ?? '';
    const m = url.match(/^https?:\/\/([a-z0-9-]+):(\d+)$/);
    if (!m || !(svc.get(m[1]) ?? []).includes(Number(m[2])))
      errors.push(`${where(o)}: QLAB_SERVER ${url} is no Service port`);
    if (!env.QLAB_TOKEN?.valueFrom?.secretKeyRef) errors.push(`${where(o)}: QLAB_TOKEN must come from the Secret`);
    const args = c.args ?? [];
    const i = args.indexOf('--shutdown-timeout');
    const timeout = i >= 0 ? Number(args[i + 1]) : 10;
    if (!((pod.terminationGracePeriodSeconds ?? 30) > timeout))
      errors.push(`${where(o)}: terminationGracePeriodSeconds must exceed --shutdown-timeout ${timeout}`);
  }
  return errors;
}

/** All three checks over a list of {file, doc}. */
export async function checkObjects(objs) {
  const errors = [];
  for (const o of objs) {
    const { apiVersion, kind } = o.doc;
    const where = `${o.file}: ${kind} ${o.doc.metadata?.name}`;
    const Model = await modelOf(apiVersion, kind);
    if (!Model) {
      errors.push(`${where}: unknown apiVersion/kind ${apiVersion}/${kind}`);
      continue;
    }
    try {
      new Model(structuredClone(o.doc)).validate();
    } catch (e) {
      errors.push(`${where}: ${e.message}`);
    }
    const strict = [];
    strictWalk(o.doc, topShape(apiVersion, kind), '', strict);
    errors.push(...strict.map((s) => `${where}: ${s}`));
  }
  errors.push(...invariants(objs));
  return errors;
}
