// checks.js - what the Node.js interop scripts share (platformatic/interop.mjs,
// kafkats/interop.js, kafkajs/interop.js and kafkajs/cluster.js): one
// "ok   NAME" or "FAIL NAME" line per check, a deadline on each, and an
// independent Java-compatible murmur2.
'use strict'

let pass = 0
let fail = 0
const ok = name => {
  pass++
  console.log(`ok   ${name}`)
}
const bad = (name, detail) => {
  fail++
  console.log(`FAIL ${name}`)
  if (detail !== undefined) console.log(String(detail).split('\n').slice(0, 20).join('\n'))
}

const withTimeout = (p, ms) =>
  Promise.race([
    p,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref()),
  ])

// An error as one readable block: message, code, Kafka error names and
// codes, nested causes (AggregateError.errors, MultipleErrors, cause).
function describe(e, depth = 0) {
  if (!e || typeof e !== 'object') return String(e)
  const pad = '  '.repeat(depth)
  const fields = ['code', 'apiId', 'apiCode', 'errorCode', 'errorMessage', 'apiName']
    .filter(k => e[k] !== undefined)
    .map(k => `${k}=${e[k]}`)
    .join(' ')
  let s = `${pad}${e.name || 'Error'}: ${e.message}${fields ? ` [${fields}]` : ''}`
  if (depth < 3) {
    for (const sub of e.errors || []) s += '\n' + describe(sub, depth + 1)
    if (e.cause) s += '\n' + describe(e.cause, depth + 1)
  }
  return s
}

// check NAME FN [MS]: FN returns true, or a string saying what is wrong.
async function check(name, fn, ms = 10000) {
  try {
    const r = await withTimeout(fn(), ms)
    if (r === true) ok(name)
    else bad(name, r)
    return r === true
  } catch (e) {
    bad(name, describe(e))
    return false
  }
}

function finish(script) {
  console.log(`${script}: ${pass} passed, ${fail} failed`)
  process.exit(fail === 0 ? 0 : 1)
}

// run SCRIPT MAIN: await MAIN(), then SCRIPT's summary line and the exit; an
// error MAIN lets out is one more failure.
function run(script, main) {
  main().then(
    () => finish(script),
    e => {
      bad(script, describe(e))
      finish(script)
    }
  )
}

// Kafka's Utils.murmur2, written out again so that neither client's own
// copy is trusted.
function murmur2(buf) {
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ buf.length) | 0
  const n4 = buf.length >> 2
  for (let i = 0; i < n4; i++) {
    const j = i * 4
    let k = buf[j] | (buf[j + 1] << 8) | (buf[j + 2] << 16) | (buf[j + 3] << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const t = buf.length & ~3
  switch (buf.length & 3) {
    case 3:
      h ^= buf[t + 2] << 16
    // falls through
    case 2:
      h ^= buf[t + 1] << 8
    // falls through
    case 1:
      h ^= buf[t]
      h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}
// The Java client's default partition of a key: murmur2 & 0x7fffffff.
const javaPartition = (key, parts) => (murmur2(Buffer.from(key)) & 0x7fffffff) % parts

// Kafka's own test vectors (UtilsTest.testMurmur2) and two of klab's.
const MURMUR2_CASES = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
  ['key-0', 29210041],
  ['key-1', 193331640],
]

module.exports = { ok, bad, check, describe, finish, run, withTimeout, murmur2, javaPartition, MURMUR2_CASES }
