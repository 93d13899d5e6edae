// deploy/k8s checked offline (tests/deploy/k8s_check.mjs says how), and the
// checker itself shown to reject broken copies of the manifests: a check
// that cannot fail proves nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkObjects, loadManifests } from './k8s_check.mjs';

const objs = loadManifests();
const find = (list, kind, name) => list.find((o) => o.doc.kind === kind && o.doc.metadata.name === name).doc;
const container = (doc) => doc.spec.template.spec.containers[0];

test('deploy/k8s holds the server, both worker variants, the Secret and the namespace', () => {
  const names = objs.map((o) => `${o.doc.kind}/${o.doc.metadata.name}`).sort();
  assert.deepEqual(names, ['Deployment/qlab-worker-fpga', 'Deployment/qlab-worker-gpu', 'Namespace/qlab',
    'Secret/qlab-tokens', 'Service/qlab-server', 'Service/qlab-server-pods', 'StatefulSet/qlab-server']);
});

test('every manifest passes the Kubernetes schemas, strict fields and the recipe invariants', async () => {
  assert.deepEqual(await checkObjects(objs), []);
});

// Each mutation breaks one thing; the checker must name it.
const mutations = [
  ['a misspelt field', /livenessProbes: unknown field/, (l) => {
    const c = container(find(l, 'StatefulSet', 'qlab-server'));
    c.livenessProbes = c.livenessProbe;
    delete c.livenessProbe;
  }],
  ['an unknown field deep in a volume claim', /volumeClaimTemplates\/0\/spec\/size: unknown field/, (l) => {
    find(l, 'StatefulSet', 'qlab-server').spec.volumeClaimTemplates[0].spec.size = '1Gi';
  }],
  ['replicas as a string', /replicas must be integer/, (l) => {
    find(l, 'Deployment', 'qlab-worker-gpu').spec.replicas = 'two';
  }],
  ['a bad quantity', /must match format "quantity"/, (l) => {
    container(find(l, 'Deployment', 'qlab-worker-gpu')).resources.limits.memory = 'lots';
  }],
  ['a container without a name', /must have required property '?name'?/, (l) => {
    delete container(find(l, 'Deployment', 'qlab-worker-fpga')).name;
  }],
  ['an unknown kind', /unknown apiVersion\/kind apps\/v1\/Deploymnet/, (l) => {
    find(l, 'Deployment', 'qlab-worker-gpu').kind = 'Deploymnet';
  }],
  ['a selector that misses its pods', /selector .* does not match the pod labels/, (l) => {
    find(l, 'Deployment', 'qlab-worker-gpu').spec.selector.matchLabels['app.kubernetes.io/component'] = 'cpu';
  }],
  ['a probe off /healthz', /readinessProbe on \/health, not \/healthz/, (l) => {
    container(find(l, 'StatefulSet', 'qlab-server')).readinessProbe.httpGet.path = '/health';
  }],
  ['two server replicas', /replicas must be 1/, (l) => {
    find(l, 'StatefulSet', 'qlab-server').spec.replicas = 2;
  }],
  ['a GPU worker without a GPU', /exactly one .*nvidia/, (l) => {
    delete container(find(l, 'Deployment', 'qlab-worker-gpu')).resources.limits['nvidia.com/gpu'];
  }],
  ['a device asked for as a request only', /device resource xilinx.com\/fpga-.* must be a limit/, (l) => {
    const r = container(find(l, 'Deployment', 'qlab-worker-fpga')).resources;
    const k = Object.keys(r.limits).find((x) => x.startsWith('xilinx.com/'));
    r.requests[k] = r.limits[k];
    delete r.limits[k];
  }],
  ['an inline join token', /QLAB_TOKEN is inline/, (l) => {
    const e = container(find(l, 'Deployment', 'qlab-worker-gpu')).env.find((x) => x.name === 'QLAB_TOKEN');
    delete e.valueFrom;
    e.value = 'a-join-token-in-plain-sight';
  }],
  ['a Secret key nobody defines', /reads qlab-tokens\/join, which no Secret defines/, (l) => {
    const e = container(find(l, 'Deployment', 'qlab-worker-fpga')).env.find((x) => x.name === 'QLAB_TOKEN');
    e.valueFrom.secretKeyRef.key = 'join';
  }],
  ['a Service port the pods lack', /targetPort web is no container port/, (l) => {
    find(l, 'Service', 'qlab-server').spec.ports[0].targetPort = 'web';
  }],
  ['workers pointed at no Service', /QLAB_SERVER http:\/\/qlab:8080 is no Service port/, (l) => {
    container(find(l, 'Deployment', 'qlab-worker-gpu')).env.find((x) => x.name === 'QLAB_SERVER').value =
      'http://qlab:8080';
  }],
  ['too little grace to hand runs back', /terminationGracePeriodSeconds must exceed/, (l) => {
    find(l, 'Deployment', 'qlab-worker-fpga').spec.template.spec.terminationGracePeriodSeconds = 10;
  }],
  ['the database off the volume', /the database \/tmp\/qlab.db is not on a volume claim/, (l) => {
    container(find(l, 'StatefulSet', 'qlab-server')).env.find((x) => x.name === 'QLAB_DB').value = '/tmp/qlab.db';
  }],
];

for (const [what, want, mutate] of mutations) {
  test(`the checker rejects ${what}`, async () => {
    const copy = structuredClone(objs);
    mutate(copy);
    const errors = await checkObjects(copy);
    assert.ok(errors.some((e) => want.test(e)), `expected ${want} among:\n${errors.join('\n') || '(no errors)'}`);
  });
}
