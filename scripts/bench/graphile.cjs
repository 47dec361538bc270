// Graphile Worker measured with the method of its own performance test
// (perfTest/run.js, init.js and latencyTest.js in the graphile/worker
// repository), so that `scripts/bench/queue.sh` can print it next to
// `bindery bench queue` on the same PostgreSQL:
//   - schedule JOBS jobs with graphile_worker.add_job in one plpgsql loop;
//   - run PARALLELISM worker processes `--once -j CONCURRENCY` until the
//     queue is empty, and subtract the time of one empty `--once` run
//     (process start-up), as perfTest does. perfTest gives each process a
//     pool of CONCURRENCY + 1 connections; 4 x 25 exceeds a default
//     PostgreSQL's max_connections (100), so pools here have CONCURRENCY;
//   - latency: one worker with concurrency 1; add one job, wait until its
//     task starts, SAMPLES times.
// Usage: node graphile.cjs DATABASE_URL JOBS PARALLELISM CONCURRENCY SAMPLES
"use strict";
const { execFile } = require("child_process");
const path = require("path");
const { Pool } = require("pg");
const { runMigrations, runTaskList } = require("graphile-worker");

const [url, jobs, parallelism, concurrency, samples] = [
  process.argv[2],
  Number(process.argv[3] || 20000),
  Number(process.argv[4] || 4),
  Number(process.argv[5] || 24),
  Number(process.argv[6] || 1000),
];
const cli = path.join(path.dirname(require.resolve("graphile-worker/package.json")), "dist", "cli.js");
const env = { ...process.env, DATABASE_URL: url, NO_LOG_SUCCESS: "1" };

function once() {
  return new Promise((resolve, reject) =>
    execFile("node", [cli, "--once", "-j", String(concurrency), "-m", String(concurrency)],
      { env, cwd: __dirname, maxBuffer: 1 << 26 },
      (err) => (err ? reject(err) : resolve())));
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main() {
  const pool = new Pool({ connectionString: url, max: 5 });
  await runMigrations({ connectionString: url });
  const startup = await timed(once);
  const enqueueMs = await timed(() =>
    pool.query(`do $$ begin perform graphile_worker.add_job('noop', json_build_object('id', i))
                from generate_series(1, ${jobs}) i; end; $$ language plpgsql;`));
  // The task list lives in ./tasks/noop.js next to this script.
  const workMs = await timed(() => Promise.all(Array.from({ length: parallelism }, once)));
  const worked = (1000 * jobs) / (workMs - startup);

  const starts = {};
  const waiters = {};
  const latencies = [];
  // The pool is a thenable that settles at shutdown: do not await it here.
  const workers = runTaskList({ concurrency: 1, noHandleSignals: true }, {
    latency: async ({ id }) => {
      if (id >= 0) latencies.push(Number(process.hrtime.bigint() - starts[id]) / 1e6);
      if (waiters[id]) waiters[id]();
    },
  }, pool);
  for (let i = 1; i <= 50; i++) {
    await new Promise((r) => { waiters[-i] = r; pool.query(`select graphile_worker.add_job('latency', json_build_object('id', $1::int))`, [-i]); });
  }
  await new Promise((r) => setTimeout(r, 1000));
  const client = await pool.connect();
  for (let id = 0; id < samples; id++) {
    const started = new Promise((r) => (waiters[id] = r));
    starts[id] = process.hrtime.bigint();
    await client.query(`select graphile_worker.add_job('latency', json_build_object('id', $1::int))`, [id]);
    await started;
  }
  client.release();
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.round((latencies.length - 1) * p)];
  console.log(JSON.stringify({
    bench: "queue", system: "graphile-worker", jobs, parallelism, concurrency,
    enqueue_per_s: Math.round((1000 * jobs) / enqueueMs), worked_per_s: Math.round(worked),
    startup_ms: Math.round(startup), latency_samples: latencies.length,
    latency_p50_ms: pct(0.5), latency_p99_ms: pct(0.99),
  }));
  await workers.gracefulShutdown();
  await pool.end();
}

main().catch((e) => { console.error(e); process.exit(1); });
