// lease.js leases a key from keybroker and reports that the provider
// refused it, the way any Node.js service would: @grpc/grpc-js with the
// .proto file loaded at run time by @grpc/proto-loader (no generated code).
//
//   npm ci
//   KEYBROKER_ADDR=127.0.0.1:50051 POOL=openai-main node lease.js
//
// It prints one JSON line per call and never prints a secret.
'use strict';

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

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
  // A gRPC error: code, message, and the broker's reason in the details.
  console.error(`keybroker ${addr}: ${grpc.status[err.code] || err.code}: ${err.details || err.message}`);
  process.exit(1);
});
