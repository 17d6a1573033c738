// onnxruntime-node behind Node's own http server: the alternative a JS team would pick.
//   node server.js <model.onnx> <port>
// Takes the KServe V1 body Flywheel takes ({"instances":[{...}]}) and answers
// {"predictions":[{"label","score"}]}, one session.run per request, like a plain server would.
'use strict';
const http = require('http');
const fs = require('fs');
const ort = require('onnxruntime-node');

const [modelPath, port] = process.argv.slice(2);

async function main() {
  const session = await ort.InferenceSession.create(fs.readFileSync(modelPath), {
    executionMode: 'sequential',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const meta = session.inputMetadata;
  // Input kinds from the model itself: string tensors for categories, float for the rest.
  const inputs = session.inputNames.map((name, i) => ({
    name,
    string: Array.isArray(meta) ? meta[i].type === 'string' : false,
  }));

  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200).end('ok');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const instances = JSON.parse(Buffer.concat(chunks).toString('utf8')).instances;
        const n = instances.length;
        const feeds = {};
        for (const input of inputs) {
          if (input.string) {
            feeds[input.name] = new ort.Tensor('string', instances.map((x) => String(x[input.name] ?? '')), [n, 1]);
          } else {
            const values = new Float32Array(n);
            instances.forEach((x, j) => {
              const v = x[input.name];
              values[j] = v === null || v === undefined ? NaN : (v === true ? 1 : v === false ? 0 : Number(v));
            });
            feeds[input.name] = new ort.Tensor('float32', values, [n, 1]);
          }
        }
        const out = await session.run(feeds);
        const labels = out['PredictedLabel.output'].data;
        const probabilities = out['Probability.output'].data;
        const predictions = [];
        for (let j = 0; j < n; j++) {
          predictions.push({ label: Boolean(labels[j]), score: probabilities[j] });
        }
        const body = JSON.stringify({ predictions });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
      }
    });
  });
  server.keepAliveTimeout = 65000;
  server.listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
  // The benchmark holds the other end of stdin: when it ends, however it ends, so does this server.
  if (process.env.FLYWHEEL_BENCH_PARENT_PIPE === '1') {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
