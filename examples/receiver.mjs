#!/usr/bin/env node
// A minimal webhook receiver for Herald deliveries: verifies each one with `herald/verify`
// (Standard Webhooks signature + timestamp) and answers 200, which every profile counts as
// delivered (Tenovos endpoints take only 200, CMP ones 200 or 202: a 204 would be retried).
//
//   HERALD_WEBHOOK_SECRET=whsec_... PORT=3000 node examples/receiver.mjs
//
// HERALD_WEBHOOK_SECRET is the endpoint's secret (shown when the endpoint is created or its
// secret rotated); give several, comma-separated, while you switch secrets.
import { createServer } from 'node:http';
import { InvalidSecretError, verify, WebhookVerificationError } from 'herald/verify';

const secrets = (process.env.HERALD_WEBHOOK_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (secrets.length === 0) {
  console.error('set HERALD_WEBHOOK_SECRET to the endpoint secret (whsec_...)');
  process.exit(2);
}
// A mistyped secret would reject every delivery: check it now, on a request signed with nothing.
try {
  const now = String(Math.floor(Date.now() / 1000));
  verify({ headers: { 'webhook-id': 'msg_check', 'webhook-timestamp': now, 'webhook-signature': 'v1,AAAA' }, body: '', secret: secrets });
} catch (err) {
  if (err instanceof InvalidSecretError) {
    console.error(`HERALD_WEBHOOK_SECRET is not a webhook secret: ${err.message}`);
    process.exit(2);
  }
}
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const MAX_BODY = 1024 * 1024;
// Delivery is at least once: a message may arrive twice. Remember recent ids (bounded).
const seen = new Set();

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    // Verify the raw bytes, never re-serialised JSON.
    const body = Buffer.concat(chunks);
    let delivery;
    try {
      delivery = verify({ headers: req.headers, body, secret: secrets });
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      console.log(`rejected ${err.code}: ${err.message}`);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.code }));
      return;
    }
    if (seen.has(delivery.id)) {
      console.log(`duplicate ${delivery.id}`);
    } else {
      seen.add(delivery.id);
      if (seen.size > 10_000) seen.delete(seen.values().next().value);
      const p = delivery.body ?? {};
      // The event name in any profile: standard, Tenovos, Media Pocket, CMP.
      const type = p.type ?? p.eventType ?? p.event ?? p.event_name ?? '?';
      console.log(`verified ${type} ${delivery.id}`);
    }
    // 200, not 204: Tenovos endpoints count only 200 as delivered, CMP ones only 200 and 202.
    res.writeHead(200, { 'content-length': '0' }).end();
  });
});

server.listen(port, host, () => console.log(`listening on http://${host}:${server.address().port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
