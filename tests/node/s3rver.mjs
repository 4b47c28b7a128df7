/* SPDX-License-Identifier: Apache-2.0 */
// A real S3-compatible server for the off-site backup tests (tests/s3/with_s3rver.sh): npm
// `s3rver` (pinned by package-lock.json), on 127.0.0.1 only, storing objects in a directory.
//
//   node s3rver.mjs STORE_DIR STATE_DIR BUCKET... [--port N] [--tls CERT.pem KEY.pem]
//
// Listens on port N (default: an ephemeral one), writes it to STATE_DIR/port once ready, and
// creates the buckets. HTTP, or HTTPS with --tls. s3rver checks that the access key id is its
// own ("S3RVER") but not the signature, so a wrong secret passes here: the tests that need a
// real signature check put tests/s3/fault_proxy.py in front. SIGTERM closes it.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');

const args = process.argv.slice(2);
let port = 0;
let cert;
let key;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') {
    port = Number(args[++i]);
  } else if (args[i] === '--tls') {
    cert = fs.readFileSync(args[++i]);
    key = fs.readFileSync(args[++i]);
  } else {
    positional.push(args[i]);
  }
}
const [storeDir, stateDir, ...buckets] = positional;
if (!storeDir || !stateDir) {
  console.error('usage: node s3rver.mjs STORE_DIR STATE_DIR BUCKET... [--port N] [--tls CERT KEY]');
  process.exit(2);
}

const server = new S3rver({
  address: '127.0.0.1',
  port,
  cert,
  key,
  silent: false,
  directory: storeDir,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  // path-style requests only: a vhost match on 127.0.0.1 would never happen anyway
  vhostBuckets: false,
});

const address = await server.run();
fs.writeFileSync(path.join(stateDir, 'port.tmp'), String(address.port));
fs.renameSync(path.join(stateDir, 'port.tmp'), path.join(stateDir, 'port'));
console.error(`s3rver: listening on 127.0.0.1:${address.port} (pid ${process.pid})`);

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
