// fakebroker.js PORT OUTDIR CLIENT - a tiny stand-in for a Kafka 3.6 broker
// (node id 7) that records the frames a client sends, for the golden files
// in tests/ch3/golden (see capture.sh there and its README.md).
//
// Each request's first frame of every (API, version) is written, exactly as
// received (4-byte size, header, body), to OUTDIR/CLIENT-<Api>-v<N>.bin;
// every request is also listed on stdout. It answers, in memory and only for
// one broker, the versions @platformatic/kafka picks against Kafka 3.6:
// ApiVersions v0-v3, Metadata v12 (and v4 for librdkafka), CreateTopics v7,
// DeleteTopics v6, InitProducerId v4, Produce v9, ListOffsets v8, Fetch v15,
// FindCoordinator v4 (always COORDINATOR_NOT_AVAILABLE, as klab before
// chapter 6). Anything else closes the connection. It is not a broker: no
// validation, no CRC checks, no long polling; enough for a client to show its
// requests, and to try tests/interop/platformatic/interop.mjs without klab.
'use strict'

const net = require('net')
const fs = require('fs')
const path = require('path')
const crypto = require('crypto')

const [PORT, OUTDIR, CLIENT] = [Number(process.argv[2]), process.argv[3], process.argv[4] || 'client']
const NODE = 7
const NAMES = { 0: 'Produce', 1: 'Fetch', 2: 'ListOffsets', 3: 'Metadata', 10: 'FindCoordinator', 18: 'ApiVersions', 19: 'CreateTopics', 20: 'DeleteTopics', 22: 'InitProducerId' }
// Kafka 3.6's ranges for these APIs.
const RANGES = [[0, 0, 9], [1, 0, 15], [2, 0, 8], [3, 0, 12], [10, 0, 4], [18, 0, 3], [19, 0, 7], [20, 0, 6], [22, 0, 4]]
// Request header v2 (flexible) from these versions on.
const FLEX = { 0: 9, 1: 12, 2: 6, 3: 9, 10: 3, 18: 3, 19: 5, 20: 4, 22: 2 }

// ---- reading --------------------------------------------------------------------
class R {
  constructor(b) { this.b = b; this.o = 0 }
  i8() { return this.b.readInt8(this.o++) }
  i16() { const v = this.b.readInt16BE(this.o); this.o += 2; return v }
  i32() { const v = this.b.readInt32BE(this.o); this.o += 4; return v }
  i64() { const v = this.b.readBigInt64BE(this.o); this.o += 8; return v }
  uv() { let v = 0, s = 0, c; do { c = this.b[this.o++]; v |= (c & 0x7f) << s; s += 7 } while (c & 0x80); return v >>> 0 }
  bytes(n) { const v = this.b.subarray(this.o, this.o + n); this.o += n; return v }
  uuid() { return this.bytes(16).toString('hex') }
  str() { const n = this.i16(); return n < 0 ? null : this.bytes(n).toString() }
  cstr() { const n = this.uv() - 1; return n < 0 ? null : this.bytes(n).toString() }
  cbytes() { const n = this.uv() - 1; return n < 0 ? null : this.bytes(n) }
  carr(f) { const n = this.uv() - 1; if (n < 0) return null; const a = []; for (let i = 0; i < n; i++) a.push(f(this)); return a }
  arr(f) { const n = this.i32(); if (n < 0) return null; const a = []; for (let i = 0; i < n; i++) a.push(f(this)); return a }
  tags() { const n = this.uv(); for (let i = 0; i < n; i++) { this.uv(); this.bytes(this.uv()) } }
}
// ---- writing --------------------------------------------------------------------
class W {
  constructor() { this.parts = [] }
  put(b) { this.parts.push(b); return this }
  i8(v) { const b = Buffer.alloc(1); b.writeInt8(v); return this.put(b) }
  i16(v) { const b = Buffer.alloc(2); b.writeInt16BE(v); return this.put(b) }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32BE(v); return this.put(b) }
  i64(v) { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return this.put(b) }
  uv(v) { const a = []; do { let c = v & 0x7f; v >>>= 7; if (v) c |= 0x80; a.push(c) } while (v); return this.put(Buffer.from(a)) }
  uuid(hex) { return this.put(Buffer.from(hex, 'hex')) }
  bool(v) { return this.i8(v ? 1 : 0) }
  str(s) { if (s === null) return this.i16(-1); const b = Buffer.from(s); return this.i16(b.length).put(b) }
  cstr(s) { if (s === null) return this.uv(0); const b = Buffer.from(s); return this.uv(b.length + 1).put(b) }
  cbytes(b) { if (b === null) return this.uv(0); return this.uv(b.length + 1).put(b) }
  carr(a, f) { if (a === null) return this.uv(0); this.uv(a.length + 1); a.forEach(x => f(this, x)); return this }
  arr(a, f) { this.i32(a.length); a.forEach(x => f(this, x)); return this }
  tags() { return this.uv(0) }
  buf() { return Buffer.concat(this.parts) }
}

// ---- state ------------------------------------------------------------------------
const topics = new Map() // name -> { id, parts: [{ log: Buffer[], next: bigint }] }
const ZERO = '0'.repeat(32)
let nextPid = 1000n
function createTopic(name, n) {
  // the id from the name, so that captures repeat byte for byte
  const id = crypto.createHash('md5').update(name).digest('hex')
  const t = { id, parts: Array.from({ length: n }, () => ({ log: [], next: 0n })) }
  topics.set(name, t)
  return t
}
const byId = id => [...topics].find(([, t]) => t.id === id)
// Append a record set: rewrite each batch's base offset.
function append(p, records) {
  const base = p.next
  for (let o = 0; o + 12 <= records.length;) {
    const len = records.readInt32BE(o + 8) + 12
    const batch = Buffer.from(records.subarray(o, o + len))
    batch.writeBigInt64BE(p.next, 0)
    p.next += BigInt(batch.readInt32BE(23) + 1) // lastOffsetDelta + 1
    p.log.push(batch)
    o += len
  }
  return base
}

// ---- handlers: (reader, version) -> writer body -------------------------------------------
const H = {
  18(r, v) { // ApiVersions
    const w = new W().i16(0)
    if (v >= 3) w.carr(RANGES, (w, [k, lo, hi]) => w.i16(k).i16(lo).i16(hi).tags()).i32(0).tags()
    else { w.arr(RANGES, (w, [k, lo, hi]) => w.i16(k).i16(lo).i16(hi)); if (v >= 1) w.i32(0) }
    return w
  },
  3(r, v, port) { // Metadata v12 or v4
    let names
    if (v >= 9) {
      names = r.carr(r => { const id = r.uuid(); const n = r.cstr(); r.tags(); return n ?? (byId(id) || [])[0] })
      const auto = r.i8()
      if (auto && names) names.forEach(n => topics.has(n) || createTopic(n, 1))
    } else {
      names = r.arr(r => r.str())
      if (v >= 4 && r.i8() && names) names.forEach(n => topics.has(n) || createTopic(n, 1))
    }
    const list = (names || [...topics.keys()]).map(n => [n, topics.get(n)])
    const w = new W()
    if (v >= 9) {
      w.i32(0).carr([0], w => w.i32(NODE).cstr('127.0.0.1').i32(port).cstr(null).tags())
      w.cstr('fake-cluster-id-000000').i32(NODE)
      w.carr(list, (w, [n, t]) => {
        w.i16(t ? 0 : 3).cstr(n).uuid(t ? t.id : ZERO).bool(false)
        w.carr(t ? t.parts.map((_, i) => i) : [], (w, i) =>
          w.i16(0).i32(i).i32(NODE).i32(0).carr([NODE], (w, x) => w.i32(x)).carr([NODE], (w, x) => w.i32(x)).carr([], () => {}).tags())
        w.i32(-2147483648).tags()
      })
      return w.tags()
    }
    w.i32(0).arr([0], w => w.i32(NODE).str('127.0.0.1').i32(port).str(null))
    w.str('fake-cluster-id-000000').i32(NODE)
    return w.arr(list, (w, [n, t]) => {
      w.i16(t ? 0 : 3).str(n).bool(false)
      w.arr(t ? t.parts.map((_, i) => i) : [], (w, i) => w.i16(0).i32(i).i32(NODE).arr([NODE], (w, x) => w.i32(x)).arr([NODE], (w, x) => w.i32(x)))
    })
  },
  19(r) { // CreateTopics v7
    const req = r.carr(r => {
      const name = r.cstr(), n = r.i32(), rf = r.i16()
      r.carr(r => { r.i32(); r.carr(r => r.i32()); r.tags() })
      r.carr(r => { r.cstr(); r.cstr(); r.tags() })
      r.tags()
      return { name, n: n < 0 ? 1 : n, rf }
    })
    return new W().i32(0).carr(req, (w, t) => {
      const exists = topics.has(t.name)
      const made = exists ? null : createTopic(t.name, t.n)
      w.cstr(t.name).uuid(made ? made.id : ZERO).i16(exists ? 36 : 0).cstr(exists ? `Topic '${t.name}' already exists.` : null)
      w.i32(made ? t.n : -1).i16(made ? 1 : -1).carr([], () => {}).tags()
    }).tags()
  },
  20(r) { // DeleteTopics v6
    const req = r.carr(r => { const n = r.cstr(); const id = r.uuid(); r.tags(); return n ?? (byId(id) || [])[0] })
    return new W().i32(0).carr(req, (w, n) => {
      const t = topics.get(n)
      topics.delete(n)
      w.cstr(n).uuid(t ? t.id : ZERO).i16(t ? 0 : 3).cstr(null).tags()
    }).tags()
  },
  22() { // InitProducerId v4
    return new W().i32(0).i16(0).i64(nextPid++).i16(0).tags()
  },
  10(r) { // FindCoordinator v4
    r.i8()
    const keys = r.carr(r => r.cstr())
    return new W().i32(0).carr(keys, (w, k) =>
      w.cstr(k).i32(-1).cstr('').i32(-1).i16(15).cstr('no group coordinator in the fake broker').tags()).tags()
  },
  0(r) { // Produce v9
    r.cstr()
    const acks = r.i16()
    r.i32()
    const req = r.carr(r => {
      const name = r.cstr()
      const parts = r.carr(r => { const i = r.i32(); const rec = r.cbytes(); r.tags(); return { i, rec } })
      r.tags()
      return { name, parts }
    })
    const res = req.map(({ name, parts }) => ({ name, parts: parts.map(({ i, rec }) => {
      const t = topics.get(name), p = t && t.parts[i]
      return p ? { i, err: 0, base: append(p, rec) } : { i, err: 3, base: -1n }
    }) }))
    if (acks === 0) return null
    return new W().carr(res, (w, t) => w.cstr(t.name).carr(t.parts, (w, p) =>
      w.i32(p.i).i16(p.err).i64(p.base).i64(-1).i64(0).carr([], () => {}).cstr(null).tags()).tags()).i32(0).tags()
  },
  2(r) { // ListOffsets v8
    r.i32(); r.i8()
    const req = r.carr(r => { const name = r.cstr(); const ps = r.carr(r => { const i = r.i32(); r.i32(); const ts = r.i64(); r.tags(); return { i, ts } }); r.tags(); return { name, ps } })
    return new W().i32(0).carr(req, (w, t) => w.cstr(t.name).carr(t.ps, (w, p) => {
      const part = topics.get(t.name)?.parts[p.i]
      w.i32(p.i).i16(part ? 0 : 3).i64(-1).i64(part ? (p.ts === -2n ? 0n : part.next) : -1n).i32(0).tags()
    }).tags()).tags()
  },
  1(r) { // Fetch v15
    r.i32(); r.i32(); r.i32(); r.i8(); r.i32(); r.i32()
    const req = r.carr(r => {
      const id = r.uuid()
      const ps = r.carr(r => { const i = r.i32(); r.i32(); const off = r.i64(); r.i32(); r.i64(); const max = r.i32(); r.tags(); return { i, off, max } })
      r.tags()
      return { id, ps }
    })
    return new W().i32(0).i16(0).i32(0).carr(req, (w, t) => {
      const e = byId(t.id)
      w.uuid(t.id).carr(t.ps, (w, p) => {
        const part = e && e[1].parts[p.i]
        if (!part) return w.i32(p.i).i16(100).i64(-1).i64(-1).i64(-1).carr(null).i32(-1).cbytes(null).tags()
        const out = []
        let size = 0
        for (const b of part.log) {
          const last = b.readBigInt64BE(0) + BigInt(b.readInt32BE(23))
          if (last < p.off) continue
          if (size && size + b.length > p.max) break
          out.push(b)
          size += b.length
        }
        w.i32(p.i).i16(0).i64(part.next).i64(part.next).i64(0).carr(null).i32(-1).cbytes(Buffer.concat(out)).tags()
      })
      w.tags()
    }).tags()
  },
}

// ---- the server --------------------------------------------------------------------
fs.mkdirSync(OUTDIR, { recursive: true })
const seen = new Set()
const server = net.createServer(sock => {
  let acc = Buffer.alloc(0)
  sock.on('error', () => {})
  sock.on('data', d => {
    acc = Buffer.concat([acc, d])
    while (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) {
      const frame = acc.subarray(0, 4 + acc.readInt32BE(0))
      acc = acc.subarray(frame.length)
      const r = new R(frame.subarray(4))
      const key = r.i16(), v = r.i16(), corr = r.i32()
      const client = r.str()
      const flex = v >= (FLEX[key] ?? 99)
      if (flex) r.tags()
      const name = NAMES[key] || `Api${key}`
      const file = `${CLIENT}-${name}-v${v}.bin`
      const first = !seen.has(file)
      if (first) {
        seen.add(file)
        fs.writeFileSync(path.join(OUTDIR, file), frame)
      }
      console.log(`${name} v${v} corr ${corr} client ${client} ${frame.length} bytes${first ? ` -> ${file}` : ''}`)
      const h = H[key]
      const supported = RANGES.some(([k, lo, hi]) => k === key && v >= lo && v <= hi)
      if (!h || (!supported && key !== 18)) { sock.destroy(); return }
      let body
      if (key === 18 && !supported) body = new W().i16(35).arr(RANGES, (w, [k, lo, hi]) => w.i16(k).i16(lo).i16(hi))
      else {
        try { body = h(r, v, PORT) } catch (e) { console.log(`  cannot answer ${name} v${v}: ${e.message}`); sock.destroy(); return }
      }
      if (body === null) continue
      const head = new W().i32(corr)
      if (flex && key !== 18) head.tags() // response header v1; ApiVersions always v0
      const out = Buffer.concat([head.buf(), body.buf()])
      const size = Buffer.alloc(4)
      size.writeInt32BE(out.length)
      sock.write(Buffer.concat([size, out]))
    }
  })
})
server.listen(PORT, '127.0.0.1', () => console.log(`fakebroker: listening on 127.0.0.1:${PORT}`))
