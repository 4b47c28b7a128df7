/* SPDX-License-Identifier: Apache-2.0 */
// A real OAuth 2.0 authorization server for the integration test tests/integration/idp_test.sh:
// npm `oidc-provider` (pinned by package-lock.json) serving HTTPS on 127.0.0.1 only.
//
//   node idp.mjs CERT.pem KEY.pem STATE_DIR
//
// Listens on an ephemeral port and writes it to STATE_DIR/port once ready. One confidential
// client ("capv-test") may use the client-credentials grant; the resource indicator chooses
// the JWS algorithm of the JWT access token it gets (audience "capv-api" in every case):
//   urn:capv:rs256 -> RS256, urn:capv:ps256 -> PS256, urn:capv:es256 -> ES256,
//   urn:capv:eddsa -> EdDSA
// Signing keys (RSA 2048, EC P-256, Ed25519) are generated at start-up with kids
// "<type>-<generation>". POST /admin/rotate (loopback only) generates a new generation, which
// signs from then on, and keeps the previous one published: the provider is rebuilt in place,
// the process and its port stay. Everything is throwaway test material.
//
// For the web UI's browser test (tests/ui/): POST /admin/ui {"redirect_uri": …} (loopback
// only) adds the public client "capv-ui" (authorization code with PKCE, no secret) and the
// provider's development login and consent pages (any login, any password). Its tokens are
// EdDSA JWTs for audience "capv-api" with the scopes verify:run registry:read
// verifications:read policy:read — not policy:compile, so the UI has a page it may not use —
// and live 600 s, or what POST /admin/ui-ttl {"seconds": N} sets for the next ones.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import Provider, { errors } from 'oidc-provider';

const [certFile, keyFile, stateDir] = process.argv.slice(2);
if (!certFile || !keyFile || !stateDir) {
  console.error('usage: node idp.mjs CERT.pem KEY.pem STATE_DIR');
  process.exit(2);
}

const RESOURCES = {
  'urn:capv:rs256': 'RS256',
  'urn:capv:ps256': 'PS256',
  'urn:capv:es256': 'ES256',
  'urn:capv:eddsa': 'EdDSA',
};
const CLIENT_SECRET = crypto.randomBytes(24).toString('base64url');
// one set of cookie keys for the process: a rebuilt provider keeps the browser's session
const COOKIE_KEYS = [crypto.randomBytes(32).toString('hex')];
const UI_SCOPES = 'verify:run registry:read verifications:read policy:read';
const ui = { redirectUri: null, ttl: 600 };

// Keys are made as PEM and read back before their JWK export. Exporting a key straight from
// generateKeyPairSync can deadlock Node.js (v20.20 here): the export holds the key's mutex while
// it allocates, a garbage collection then destroys the finished generation job, and the job's
// destructor takes the same mutex. The identity provider hung so at start-up in CI; a loop of
// such exports hangs within 500 keys, the same loop through PEM made 3000.
const PEM = {
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
};

function generation(n) {
  const jwk = (pair, kid) => ({
    ...crypto.createPrivateKey(pair.privateKey).export({ format: 'jwk' }), kid, use: 'sig',
  });
  return [
    jwk(crypto.generateKeyPairSync('rsa', { modulusLength: 2048, ...PEM }), `rsa-${n}`),
    jwk(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', ...PEM }), `ec-${n}`),
    jwk(crypto.generateKeyPairSync('ed25519', PEM), `ed-${n}`),
  ];
}

function makeProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'capv-test',
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }, ...(ui.redirectUri ? [{
      client_id: 'capv-ui',
      grant_types: ['authorization_code'],
      redirect_uris: [ui.redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }] : [])],
    jwks: { keys },
    scopes: ['verify:read', 'verify:run', 'registry:write',
      ...(ui.redirectUri ? ['openid', 'registry:read', 'verifications:read', 'policy:read', 'policy:compile'] : [])],
    cookies: { keys: COOKIE_KEYS },
    features: {
      devInteractions: { enabled: Boolean(ui.redirectUri) },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client) => (client && client.clientId === 'capv-ui' ? 'urn:capv:ui' : 'urn:capv:rs256'),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource === 'urn:capv:ui' && ui.redirectUri) {
            return {
              audience: 'capv-api',
              scope: UI_SCOPES,
              accessTokenTTL: ui.ttl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'EdDSA' } },
            };
          }
          const alg = RESOURCES[resource];
          if (!alg) throw new errors.InvalidTarget();
          return {
            audience: 'capv-api',
            scope: 'verify:read verify:run registry:write',
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
  });
  provider.on('server_error', (ctx, err) => console.error('idp: server_error', err));
  return provider;
}

const tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
const server = https.createServer(tls);
let gen = 1;
let keys = generation(gen);
let handler = null;
let issuer = null;

server.on('request', (req, res) => {
  const local = ['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(req.socket.remoteAddress);
  if (req.url === '/admin/rotate' && req.method === 'POST' && local) {
    gen += 1;
    // the new generation signs (it comes first); the previous one stays published
    keys = [...generation(gen), ...keys.filter((k) => k.kid.endsWith(`-${gen - 1}`))];
    handler = makeProvider(issuer, keys).callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ generation: gen, kids: keys.map((k) => k.kid) }));
    return;
  }
  if ((req.url === '/admin/ui' || req.url === '/admin/ui-ttl') && req.method === 'POST' && local) {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const q = JSON.parse(body || '{}');
      if (req.url === '/admin/ui') {
        ui.redirectUri = String(q.redirect_uri);
        handler = makeProvider(issuer, keys).callback();
      } else {
        ui.ttl = Number(q.seconds);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ui));
    });
    return;
  }
  if (req.url === '/admin/client' && req.method === 'GET' && local) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ client_id: 'capv-test', client_secret: CLIENT_SECRET }));
    return;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  issuer = `https://127.0.0.1:${port}`;
  handler = makeProvider(issuer, keys).callback();
  fs.writeFileSync(path.join(stateDir, 'port.tmp'), String(port));
  fs.renameSync(path.join(stateDir, 'port.tmp'), path.join(stateDir, 'port'));
  console.error(`idp: ${issuer} ready (pid ${process.pid})`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
