// A small "orders-api" HTTP service traced with the OpenTelemetry Node SDK, plus a driver
// that sends it 80 requests; the spans go out through the OTLP/HTTP exporter, whose
// default encoding is OTLP/JSON, to OTLP_URL (otlp_receiver.py writes each POST verbatim).
//
//   GET /orders/{id}  SERVER span; child "redis GET" (CLIENT, db.system=redis); on a cache
//                     miss "SELECT orders" (CLIENT, db.system=postgresql,
//                     server.address=orders-db) then "redis SET". About 1 miss in 6 hits
//                     the statement timeout: the SELECT and the SERVER span are errors (500).
//   POST /orders      SERVER span; "INSERT orders" (postgresql) then "POST /charge" (CLIENT,
//                     peer.service=payments); about 1 in 5 charges fails: 502, both errors.
//
// Work is simulated with real timers, so every duration is measured by the SDK's clock.
// Usage: OTLP_URL=http://127.0.0.1:4318/v1/traces node trace_orders.js
'use strict';

const http = require('node:http');
const { SpanKind, SpanStatusCode, trace, context } = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');

const exporter = new OTLPTraceExporter({ url: process.env.OTLP_URL });
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    'service.name': 'orders-api',
    'service.version': '1.4.2',
    'deployment.environment.name': 'loadtest',
  }),
  spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 128 })],
});
provider.register();
const tracer = trace.getTracer('orders-api', '1.4.2');

// A seeded generator, so the mix of hits, misses and errors is the same on every run.
let seed = 42;
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low, high) => low + (high - low) * random();

async function client(name, attributes, low, high, fails) {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    await sleep(between(low, high));
    if (fails) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: fails });
      span.setAttribute('error.type', fails);
    }
    span.end();
    return !fails;
  });
}

const redis = (operation) => ({
  'db.system': 'redis', 'db.operation.name': operation,
  'server.address': 'orders-cache', 'server.port': 6379, 'peer.service': 'orders-cache',
});
const postgres = (operation) => ({
  'db.system': 'postgresql', 'db.namespace': 'shop', 'db.operation.name': operation,
  'db.collection.name': 'orders', 'server.address': 'orders-db', 'server.port': 5432,
  'peer.service': 'orders-db',
});

async function getOrder(id) {
  const hit = random() < 0.6;
  await client('redis GET', redis('GET'), 0.3, 1.5, null);
  if (hit) return 200;
  const timeout = random() < 1 / 6;
  const ok = await client('SELECT orders', postgres('SELECT'), 3, 12,
    timeout ? 'canceling statement due to statement timeout' : null);
  if (!ok) return 500;
  await client('redis SET', redis('SET'), 0.3, 1.5, null);
  return 200;
}

async function postOrder() {
  await client('INSERT orders', postgres('INSERT'), 5, 15, null);
  const declined = random() < 1 / 5;
  const ok = await client('POST /charge', {
    'http.request.method': 'POST', 'server.address': 'payments.internal', 'server.port': 443,
    'url.full': 'https://payments.internal/charge', 'peer.service': 'payments',
  }, 10, 30, declined ? 'payment gateway returned 503' : null);
  return ok ? 201 : 502;
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://localhost');
  const isGet = request.method === 'GET' && url.pathname.startsWith('/orders/');
  const route = isGet ? '/orders/{id}' : '/orders';
  const attributes = {
    'http.request.method': request.method, 'http.route': route, 'url.path': url.pathname,
    'url.scheme': 'http', 'server.address': 'orders-api', 'server.port': 8080,
  };
  tracer.startActiveSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER, attributes },
    async (span) => {
      request.resume();
      const status = isGet ? await getOrder(url.pathname.split('/')[2]) : await postOrder();
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute('error.type', String(status));
      }
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end('{}');
      span.end();
    });
});

async function drive(port) {
  // Three workers send 80 requests in all, 70 % of them GET, with 5-25 ms pauses.
  let left = 80;
  async function worker() {
    while (left > 0) {
      left -= 1;
      const get = random() < 0.7;
      const path = get ? `/orders/${Math.floor(between(1, 1000))}` : '/orders';
      const answer = await fetch(`http://127.0.0.1:${port}${path}`,
        { method: get ? 'GET' : 'POST', body: get ? undefined : '{"product": 7}' });
      await answer.text();
      await sleep(between(5, 25));
    }
  }
  await Promise.all([worker(), worker(), worker()]);
}

server.listen(0, '127.0.0.1', async () => {
  await context.with(context.active(), () => drive(server.address().port));
  server.close();
  await provider.forceFlush();
  await provider.shutdown();
});
