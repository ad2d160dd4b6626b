// interop.js BROKER OUTDIR - kafkajs 2.2.4 against a real `klab broker`
// (run by ../kafkajs.sh, which starts the broker and checks OUTDIR with kcat).
//
// Prints one "ok   ..." or "FAIL ..." line per check.  The broker has no
// consumer groups (FindCoordinator, JoinGroup, ...), so the kafkajs Consumer
// cannot be used; records are read back with kafkajs's internal Broker.fetch
// (Fetch v11, no group) here and with kcat in kafkajs.sh, which compares each
// partition with OUTDIR/want-TOPIC-P ("%k %s %h %o" lines).
'use strict'

const fs = require('fs')
const path = require('path')
const { Kafka, logLevel, Partitioners, CompressionTypes } = require('kafkajs')
const { fetchAll } = require('./fetch')
const { check, run, murmur2, javaPartition, MURMUR2_CASES } = require('../lib/checks')

const [broker, outdir] = process.argv.slice(2)
const BROKER_ID = 7
const N = 2000
const PARTS = 4

const partitionOf = key => javaPartition(key, PARTS)

// kafkajs logs at ERROR level only; an error we provoke on purpose is not shown.
let expectError = null
const logCreator = () => ({ namespace, log }) => {
  if (expectError && String(log.error).includes(expectError)) return
  console.log(`  kafkajs ${namespace}: ${log.message}${log.error ? ` (${log.error})` : ''}`)
}

const kafka = new Kafka({
  clientId: 'klab-interop',
  brokers: [broker],
  logLevel: logLevel.ERROR,
  logCreator,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
})

// The records of one topic: key-i, "value i of TOPIC", two headers, and
// timestamps BASE + i so that ListOffsets by time has exact answers.
const BASE = Date.now() - 3600 * 1000
const records = topic =>
  Array.from({ length: N }, (_, i) => ({
    key: `key-${i}`,
    value: `value ${i} of ${topic}`,
    headers: { trace: '7', app: 'klab' },
    timestamp: String(BASE + i),
  }))

// What each partition must hold, in order: [{ i, offset }].
function expected() {
  const per = Array.from({ length: PARTS }, () => [])
  for (let i = 0; i < N; i++) {
    const p = partitionOf(`key-${i}`)
    per[p].push({ i, offset: per[p].length })
  }
  return per
}

function writeWant(topic) {
  expected().forEach((list, p) => {
    const lines = list.map(({ i, offset }) => `key-${i} value ${i} of ${topic} trace=7,app=klab ${offset}\n`)
    fs.writeFileSync(path.join(outdir, `want-${topic}-${p}`), lines.join(''))
  })
}

async function waitForTotal(admin, topic, total) {
  const deadline = Date.now() + 8000
  let sum = -1
  while (Date.now() < deadline) {
    const offs = await admin.fetchTopicOffsets(topic)
    sum = offs.reduce((s, o) => s + Number(o.high), 0)
    if (sum >= total) return sum
    await new Promise(r => setTimeout(r, 100))
  }
  return sum
}

async function main() {
  const admin = kafka.admin()
  const T = 'kjs-acks-all'
  const topics = [T, 'kjs-acks-1', 'kjs-acks-0', 'kjs-gzip']

  await check('admin.connect (ApiVersions, Metadata)', async () => {
    await admin.connect()
    return true
  })

  await check('admin.describeCluster: broker 7 is the controller', async () => {
    const d = await admin.describeCluster()
    const [host, port] = broker.split(':')
    return (d.controller === BROKER_ID &&
      d.brokers.length === 1 &&
      d.brokers[0].nodeId === BROKER_ID &&
      d.brokers[0].host === host &&
      d.brokers[0].port === Number(port)) || JSON.stringify(d)
  })

  await check(`admin.createTopics: ${topics.length} topics with ${PARTS} partitions`, async () => {
    const created = await admin.createTopics({
      topics: topics.map(topic => ({ topic, numPartitions: PARTS })),
    })
    return created === true || `createTopics returned ${created}`
  })

  await check('admin.createTopics again: false (TOPIC_ALREADY_EXISTS)', async () => {
    expectError = 'Topic creation errors'
    const created = await admin.createTopics({ topics: [{ topic: T, numPartitions: PARTS }] })
    expectError = null
    return created === false || `createTopics returned ${created}`
  })

  await check('admin.listTopics lists them', async () => {
    const l = await admin.listTopics()
    return topics.every(t => l.includes(t)) || JSON.stringify(l)
  })

  await check(`admin.fetchTopicMetadata: ${PARTS} partitions led by broker 7`, async () => {
    const md = await admin.fetchTopicMetadata({ topics: [T] })
    const ps = md.topics[0].partitions.slice().sort((a, b) => a.partitionId - b.partitionId)
    const good =
      md.topics[0].name === T &&
      ps.length === PARTS &&
      ps.every(
        (p, i) =>
          p.partitionId === i &&
          p.partitionErrorCode === 0 &&
          p.leader === BROKER_ID &&
          JSON.stringify(p.replicas) === `[${BROKER_ID}]` &&
          JSON.stringify(p.isr) === `[${BROKER_ID}]`
      )
    return good || JSON.stringify(md)
  })

  await check('murmur2 (lib/checks.js) agrees with known Kafka values', async () => {
    const wrong = MURMUR2_CASES.filter(([k, h]) => murmur2(Buffer.from(k)) !== h)
    return wrong.length === 0 || JSON.stringify(wrong)
  })
  fs.writeFileSync(
    path.join(outdir, 'partition-of'),
    ['key-0', 'key-1', 'key-7', 'key-42', 'key-1999'].map(k => `${k} ${partitionOf(k)}\n`).join('')
  )

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await check('producer.connect', async () => {
    await producer.connect()
    return true
  })

  const sends = [
    { topic: T, acks: -1, name: 'acks -1' },
    { topic: 'kjs-acks-1', acks: 1, name: 'acks 1' },
    { topic: 'kjs-acks-0', acks: 0, name: 'acks 0' },
    { topic: 'kjs-gzip', acks: -1, name: 'gzip, acks -1', compression: CompressionTypes.GZIP },
  ]
  for (const s of sends) {
    writeWant(s.topic)
    await check(`produce ${N} keyed records with headers (${s.name}) in batches of 500`, async () => {
      const all = records(s.topic)
      const res = []
      for (let i = 0; i < N; i += 500) {
        const r = await producer.send({
          topic: s.topic,
          acks: s.acks,
          compression: s.compression,
          messages: all.slice(i, i + 500),
        })
        res.push(...r)
      }
      if (s.acks === 0) return true // no responses to check
      const errs = res.filter(r => r.errorCode !== 0)
      return errs.length === 0 || JSON.stringify(errs.slice(0, 5))
    })
  }

  const want = expected()
  for (const s of sends) {
    await check(`admin.fetchTopicOffsets (${s.topic}): high watermarks = murmur2 counts`, async () => {
      await waitForTotal(admin, s.topic, N)
      const offs = (await admin.fetchTopicOffsets(s.topic)).sort((a, b) => a.partition - b.partition)
      const got = offs.map(o => `${o.partition}:${o.low}-${o.high}`).join(' ')
      const exp = want.map((l, p) => `${p}:0-${l.length}`).join(' ')
      return got === exp || `got ${got}, want ${exp}`
    })
  }

  await check('admin.fetchTopicOffsetsByTimestamp: exact offsets', async () => {
    const probe = async (ts, fn) => {
      const r = (await admin.fetchTopicOffsetsByTimestamp(T, ts)).sort((a, b) => a.partition - b.partition)
      const got = r.map(o => `${o.partition}:${o.offset}`).join(' ')
      const exp = want.map((l, p) => `${p}:${fn(l)}`).join(' ')
      return got === exp ? null : `ts ${ts - BASE}: got ${got}, want ${exp}`
    }
    const errs = [
      // before everything: offset 0 everywhere
      await probe(BASE - 1000, () => 0),
      // the middle: the first record with i >= 1000
      await probe(BASE + 1000, l => l.filter(x => x.i < 1000).length),
      // exactly the last record
      await probe(BASE + N - 1, l => l.filter(x => x.i < N - 1).length),
      // after everything: the broker says -1, kafkajs substitutes the high watermark
      await probe(BASE + N + 1000, l => l.length),
    ].filter(e => e)
    return errs.length === 0 || errs.join('\n')
  })

  // kafkajs's own decoding of Fetch v11 responses (no consumer group).
  const cluster = (() => {
    const sym = Object.getOwnPropertySymbols(kafka).find(s => s.description === 'private:Kafka:createCluster')
    return kafka[sym]({})
  })()
  for (const topic of [T, 'kjs-gzip']) {
    await check(`kafkajs Fetch (${topic}): every record back intact, in its murmur2 partition`, async () => {
      await cluster.connect()
      await cluster.addTargetTopic(topic)
      const problems = []
      for (let p = 0; p < PARTS; p++) {
        const msgs = await fetchAll(cluster, BROKER_ID, topic, p, want[p].length)
        if (msgs.length !== want[p].length) problems.push(`p${p}: ${msgs.length} records, want ${want[p].length}`)
        msgs.forEach((m, k) => {
          const w = want[p][k]
          if (!w) return
          const key = m.key && m.key.toString()
          const value = m.value && m.value.toString()
          const h = m.headers || {}
          const good =
            key === `key-${w.i}` &&
            value === `value ${w.i} of ${topic}` &&
            Number(m.offset) === w.offset &&
            Number(m.timestamp) === BASE + w.i &&
            String(h.trace) === '7' &&
            String(h.app) === 'klab' &&
            partitionOf(key) === p
          if (!good && problems.length < 5)
            problems.push(`p${p}[${k}]: ${key} ${value} ${m.offset} ${m.timestamp} ${JSON.stringify(h)}`)
        })
      }
      return problems.length === 0 || problems.join('\n')
    })
  }
  await cluster.disconnect().catch(() => {})
  await producer.disconnect().catch(() => {})

  await check('admin.deleteTopics; listTopics no longer has it', async () => {
    await admin.deleteTopics({ topics: ['kjs-acks-1'] })
    const l = await admin.listTopics()
    return (!l.includes('kjs-acks-1') && l.includes(T)) || JSON.stringify(l)
  })

  await admin.disconnect().catch(() => {})
}

run('interop.js', main)
