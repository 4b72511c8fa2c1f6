// ONNX Runtime (onnxruntime-node, CPU execution provider) latency of one
// model, per batch size: graph optimization 'all', sequential execution,
// intra-op threads as given. Checks the output against PyTorch's and appends
// one JSON line per batch to OUT.
//
// Usage: node time_ort.js ORT_PREFIX DATA_DIR MODEL THREADS OUT
//   ORT_PREFIX: the folder where `npm install onnxruntime-node` was run
'use strict';
const fs = require('fs');
const path = require('path');

const [ortPrefix, dataDir, model, threadsArg, outFile] = process.argv.slice(2);
const ort = require(require.resolve('onnxruntime-node', { paths: [ortPrefix] }));
const threads = Number(threadsArg);
const manifest = JSON.parse(fs.readFileSync(path.join(dataDir, 'manifest.json'), 'utf8'))[model];

function readFloats(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// The same rule as dnn-run bench: >= 5 runs and 0.5 s of warm-up, then the
// median of >= 20 runs and >= 1 s.
async function timeRuns(fn) {
  const start = nowMs();
  for (let n = 0; n < 5 || nowMs() - start < 500; n++) await fn();
  const times = [];
  let total = 0;
  while (times.length < 20 || (total < 1000 && times.length < 2000)) {
    const t0 = nowMs();
    await fn();
    const elapsed = nowMs() - t0;
    times.push(elapsed);
    total += elapsed;
  }
  times.sort((a, b) => a - b);
  return {
    median_ms: times[Math.floor(times.length / 2)],
    p10_ms: times[Math.floor(times.length / 10)],
    p90_ms: times[Math.floor((9 * times.length) / 10)],
    runs: times.length,
  };
}

(async () => {
  const session = await ort.InferenceSession.create(manifest.onnx, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', executionMode: 'sequential',
    intraOpNumThreads: threads, interOpNumThreads: 1,
  });
  for (const batch of [1, 32]) {
    const record = { contender: 'onnxruntime', model, batch, threads };
    try {
      const stem = path.join(dataDir, `${model}_b${batch}`);
      const feeds = { input: new ort.Tensor('float32', readFloats(`${stem}_in.bin`), [batch, ...manifest.input_shape]) };
      const reference = readFloats(`${stem}_ref.bin`);
      const result = (await session.run(feeds)).output.data;
      if (result.length !== reference.length) throw new Error(`output has ${result.length} values, PyTorch ${reference.length}`);
      let diff = 0;
      for (let i = 0; i < reference.length; i++) diff = Math.max(diff, Math.abs(result[i] - reference[i]));
      record.max_abs_diff = diff;
      Object.assign(record, await timeRuns(() => session.run(feeds)));
    } catch (error) {
      record.error = String(error).slice(0, 300);
    }
    fs.appendFileSync(outFile, JSON.stringify(record) + '\n');
    console.log(JSON.stringify(record));
  }
})();
