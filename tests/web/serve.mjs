// Development aid: a seeded server to look at the dashboard by hand.
//   node tests/web/serve.mjs      then open the printed URL; Ctrl-C stops it.
import { startServer } from './lib/server.mjs';
import { client } from './lib/client.mjs';
import { seed } from './lib/seed.mjs';

const srv = await startServer();
const s = await seed(client(srv.url));
console.log(`dashboard: ${srv.url}/#/sweeps/${s.sweep.id}  (running runs: ${s.running.join(', ')})`);
const stop = async () => { await srv.stop(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
