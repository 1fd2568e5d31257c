// onnxruntime CPU EP benchmark with the same rows as bench_engine: ms per image at
// batch 1 and 8, 1 thread and all cores. Models exported with a fixed batch of 1 run
// batch 8 as 8 batch-1 runs (noted in the batch column).
// Usage: node ort_bench.js [--quick] MODEL.onnx ...   (onnxruntime-node resolved from bench/.ort)
'use strict';
const path = require('path');
const os = require('os');
const ort = require(path.join(__dirname, '.ort', 'node_modules', 'onnxruntime-node'));

const args = process.argv.slice(2);
const quick = args[0] === '--quick';
const models = quick ? args.slice(1) : args;
const minSeconds = quick ? 0 : 2.0;
const minRuns = 3;

function fill(n) {
	const x = new Float32Array(n);
	for (let i = 0; i < n; i++)
		x[i] = ((Math.imul(i, 2654435761) >>> 24) & 255) / 255;
	return x;
}

async function benchOne(model, batch, threads) {
	const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all',
	               executionMode: 'sequential', interOpNumThreads: 1, intraOpNumThreads: threads };
	const s = await ort.InferenceSession.create(model, opts);
	const meta = s.inputMetadata ? s.inputMetadata[0] : null;
	if (!meta || !meta.shape) throw new Error(`${model}: cannot read the input shape`);
	const fixed = meta.shape[0] === 1;
	const runBatch = fixed ? 1 : batch, calls = fixed ? batch : 1;
	// Every input: the image gets the pattern, an int64 [N, 2] (a DETR export's
	// orig_target_sizes) the frame size bench_engine gives (cars-432p: 768 x 432).
	const feed = {};
	s.inputMetadata.forEach((m, i) => {
		const dims = [runBatch, ...m.shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1))];
		const n = dims.reduce((a, b) => a * b, 1);
		if (m.type === 'int64') {
			const v = new BigInt64Array(n);
			for (let k = 0; k < n; k++) v[k] = BigInt(k % 2 ? 432 : 768);
			feed[s.inputNames[i]] = new ort.Tensor('int64', v, dims);
		} else {
			feed[s.inputNames[i]] = new ort.Tensor('float32', fill(n), dims);
		}
	});
	await s.run(feed);
	// The fastest run, as bench_engine: other processes only ever add time.
	let runs = 0, best = Infinity;
	const t0 = process.hrtime.bigint();
	do {
		const t1 = process.hrtime.bigint();
		for (let c = 0; c < calls; c++) await s.run(feed);
		best = Math.min(best, Number(process.hrtime.bigint() - t1) / 1e9);
		runs++;
	} while (Number(process.hrtime.bigint() - t0) / 1e9 < minSeconds || runs < minRuns);
	const ms = (best * 1e3) / batch;
	const rssMb = process.memoryUsage().rss / 1048576;
	const b = fixed && batch > 1 ? `${batch} (${batch}x1)` : `${batch}`;
	console.log(`| onnxruntime ${ort.env.versions ? ort.env.versions.common : ''} cpu | ${path.basename(model)} | ${b} | ` +
	            `${threads || os.cpus().length} | ${ms.toFixed(2)} | ${(1e3 / ms).toFixed(1)} | ${rssMb.toFixed(1)} (rss) |`);
	await s.release();
}

(async () => {
	for (const m of models)
		for (const t of [1, 0])
			for (const b of [1, 8])
				await benchOne(m, b, t);
})().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
