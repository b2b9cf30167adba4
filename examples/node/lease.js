// lease.js leases a key from keybroker and reports that the provider
// refused it, the way any Node.js service would: @grpc/grpc-js with the
// .proto file loaded at run time by @grpc/proto-loader (no generated code).
// When the broker refuses, it decodes the google.rpc.ErrorInfo (the
// reason, such as POOL_EMPTY) and RetryInfo (how long to wait) from the
// status details, with types built from the googleapis protos of the
// pinned google-proto-files package. For generated types and a fetch that
// does all of this, see clients/ts.
//
//   npm ci
//   KEYBROKER_ADDR=127.0.0.1:50051 POOL=openai-main node lease.js
//
// It prints one JSON line per call and never prints a secret.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO = path.join(__dirname, '..', '..', 'proto', 'keybroker', 'v1', 'keybroker.proto');
const addr = process.env.KEYBROKER_ADDR || '127.0.0.1:50051';
const pool = process.env.POOL || 'openai-main';

// Field names in lowerCamelCase (leaseId), enums as their names, int64 as
// strings: the JSON mapping grpcurl and the Go client's -o json use too.
const definition = protoLoader.loadSync(PROTO, {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { KeyBrokerService } = grpc.loadPackageDefinition(definition).keybroker.v1;

// google.rpc.Status and its details, which the broker sends in the
// grpc-status-details-bin trailer.
const googleapis = path.dirname(require.resolve('google-proto-files/package.json'));
const rpc = protobuf.loadSync(
  ['status.proto', 'error_details.proto'].map((f) => path.join(googleapis, 'google', 'rpc', f)),
);
const Status = rpc.lookupType('google.rpc.Status');
const detailTypes = ['google.rpc.ErrorInfo', 'google.rpc.RetryInfo', 'google.rpc.BadRequest'].map((n) => rpc.lookupType(n));

// brokerDetails decodes a gRPC error's google.rpc details into an object
// keyed by type name ('google.rpc.ErrorInfo': { reason, domain, metadata }).
function brokerDetails(err) {
  const [bin] = (err.metadata && err.metadata.get('grpc-status-details-bin')) || [];
  if (!bin) return {};
  const out = {};
  for (const any of Status.decode(bin).details) {
    const url = any.type_url || any.typeUrl || ''; // protobufjs's built-in Any keeps the proto name
    const type = detailTypes.find((t) => url.endsWith('/' + t.fullName.slice(1)));
    if (type) out[type.fullName.slice(1)] = type.toObject(type.decode(any.value), { longs: Number });
  }
  return out;
}

// call runs one unary RPC with a deadline, as a promise.
function call(client, method, request) {
  const deadline = new Date(Date.now() + 5000);
  return new Promise((resolve, reject) => {
    client[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

// isoTime turns a google.protobuf.Timestamp into an RFC 3339 string.
function isoTime(ts) {
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toISOString();
}

async function main() {
  const client = new KeyBrokerService(addr, grpc.credentials.createInsecure());
  try {
    const key = await call(client, 'GetRandom', { pool });
    // Use key.secret as the provider's API key here. Say the provider
    // answered 429 rate_limit_exceeded with Retry-After: 20.
    console.log(JSON.stringify({ call: 'GetRandom', keyId: key.keyId, leaseExpires: isoTime(key.lease.expireTime) }));

    const report = await call(client, 'ReportFailure', {
      pool,
      leaseId: key.lease.leaseId,
      httpStatus: 429,
      errorType: 'requests',
      errorCode: 'rate_limit_exceeded',
      retryAfter: { seconds: 20 },
    });
    console.log(JSON.stringify({ call: 'ReportFailure', keyId: report.keyId, kind: report.kind, state: report.state }));
  } finally {
    client.close();
  }
}

main().catch((err) => {
  // A gRPC error: err.code is the status code and err.details the
  // message text. What a program acts on is in the status details: the
  // ErrorInfo's reason (POOL_EMPTY, NO_HEALTHY_KEY, LEASE_UNKNOWN, ...)
  // and, when waiting helps, the RetryInfo's delay.
  const d = brokerDetails(err);
  const reason = d['google.rpc.ErrorInfo'] ? d['google.rpc.ErrorInfo'].reason : '';
  const delay = d['google.rpc.RetryInfo'] && d['google.rpc.RetryInfo'].retryDelay;
  const wait = delay ? `; retry in ${(delay.seconds || 0) + (delay.nanos || 0) / 1e9}s` : '';
  console.error(`keybroker ${addr}: ${grpc.status[err.code] || err.code}: ${err.details || err.message} (reason ${reason || 'none'}${wait})`);
  process.exit(1);
});
