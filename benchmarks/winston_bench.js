// The original design's logger (docs: sprint-2 task 2.3), three files, for `make bench`.
// Usage: node winston_bench.js throughput DIR CALLS ROUNDS  -> one JSON line of results
//        node winston_bench.js burst DIR LINES               -> logs LINES lines and exits
// The design's Console transport is left out: Khronos runs with console="off" beside it.
'use strict';
const winston = require('winston');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

let correlationId = null;
function setCorrelationId(id) { correlationId = id; }
function getCorrelationId() { return correlationId || crypto.randomUUID(); }

function makeLogger(dir) {
  return winston.createLogger({
    level: process.env.LOG_LEVEL || 'info',
    format: winston.format.combine(
      winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss.SSS' }),
      winston.format.errors({ stack: true }),
      winston.format.printf(({ level, message, timestamp, ...meta }) => {
        const correlationIdValue = meta.correlationId || getCorrelationId();
        const userId = meta.userId || 'SYSTEM';
        return JSON.stringify({
          '@timestamp': timestamp,
          level,
          message,
          correlationId: correlationIdValue,
          userId,
          service: 'khronos',
          environment: process.env.NODE_ENV,
          pid: process.pid,
          ...meta,
        });
      })
    ),
    defaultMeta: { service: 'khronos', version: process.env.npm_package_version || '1.0.0' },
    transports: [
      new winston.transports.File({
        filename: path.join(dir, 'combined.log'), maxsize: 20971520, maxFiles: 7, tailable: true,
      }),
      new winston.transports.File({
        filename: path.join(dir, 'errors.log'), level: 'error', maxsize: 20971520, maxFiles: 30,
        tailable: true,
      }),
      new winston.transports.File({
        filename: path.join(dir, 'critical.log'), level: 'error',
        filter: (info) => info.level === 'error' && info.critical === true,
        maxsize: 10485760, maxFiles: 90,
      }),
    ],
    exceptionHandlers: [new winston.transports.File({ filename: path.join(dir, 'exceptions.log') })],
    rejectionHandlers: [new winston.transports.File({ filename: path.join(dir, 'rejections.log') })],
  });
}

const logWithContext = (logger, level, message, context = {}) => {
  logger.log(level, message, {
    ...context,
    correlationId: getCorrelationId(),
    timestamp: new Date().toISOString(),
  });
};

function countLines(file) {
  try { return fs.readFileSync(file).toString('latin1').split('\n').length - 1; } catch { return 0; }
}

async function throughput(dir, calls, rounds) {
  const perCall = [];
  const rates = [];
  let lost = 0;
  for (let round = 0; round < rounds; round++) {
    const roundDir = path.join(dir, `round-${round}`);
    fs.mkdirSync(roundDir, { recursive: true });
    const logger = makeLogger(roundDir);
    setCorrelationId('bench-cid');
    const started = process.hrtime.bigint();
    for (let n = 0; n < calls; n++) {
      logWithContext(logger, 'info', 'request handled', { component: 'bench', n, status: 200 });
    }
    const caller = Number(process.hrtime.bigint() - started) / 1e9;
    // until every line is on disk, or none has arrived for 2 s (winston lost it): waiting for
    // the transports' 'finish' events after logger.end() never ended when winston lost lines
    const combined = path.join(roundDir, 'combined.log');
    let seen = 0;
    let since = Date.now();
    for (;;) {
      const now = countLines(combined);
      if (now >= calls) break;
      if (now > seen) { seen = now; since = Date.now(); }
      if (Date.now() - since > 2000) { lost += calls - now; break; }
      await new Promise((r) => setTimeout(r, 1));
    }
    const total = Number(process.hrtime.bigint() - started) / 1e9;
    perCall.push((caller / calls) * 1e6);
    rates.push(calls / total);
    logger.exceptions.unhandle();
    logger.rejections.unhandle();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(JSON.stringify({ us_per_call: median(perCall), lines_per_s: median(rates), lost }) + '\n');
}

function burst(dir, lines) {
  process.on('exit', () => {  // its own peak RSS, for the bench
    const status = fs.readFileSync('/proc/self/status', 'ascii');
    process.stdout.write(`VmHWM: ${/VmHWM:\s*(\d+)/.exec(status)[1]}\n`);
  });
  const logger = makeLogger(dir);
  setCorrelationId('bench-cid');
  for (let n = 0; n < lines; n++) {
    logWithContext(logger, 'info', 'request handled', { component: 'bench', n, status: 200 });
  }
  // node exits once every pending write is done
}

const [mode, dir, count, rounds] = process.argv.slice(2);
if (mode === 'throughput') {
  throughput(dir, Number(count), Number(rounds));
} else {
  burst(dir, Number(count));
}
