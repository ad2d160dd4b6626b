// cluster.js - kafkajs 2.2.4 against a static cluster of `klab broker`
// processes (run by ../cluster.sh, which starts the brokers and checks the
// rest with kcat).  Every call is given ONE bootstrap server; kafkajs finds
// the other brokers in the Metadata answer and talks to each partition's
// leader itself.
//
//   node cluster.js create BROKER TOPIC PARTITIONS
//       admin.createTopics through BROKER; fetchTopicMetadata names a leader
//       for every partition.
//   node cluster.js produce BROKER TOPIC COUNT OUTDIR
//       COUNT keyed records (key-(i % 100), "kjs value i") produced through
//       BROKER, then every partition read back with kafkajs's own Fetch from
//       its leader; writes OUTDIR/kjs-want ("P KEY VALUE" lines, the order
//       of each partition) for cluster.sh to compare with what kcat reads.
//
// Prints one "ok   ..." or "FAIL ..." line per check and a summary line.
// The broker has no consumer groups (FindCoordinator answers
// COORDINATOR_NOT_AVAILABLE), so the kafkajs Consumer cannot be used: records
// are read with kafkajs's internal Broker.fetch (Fetch v11, no group), as in
// interop.js.
'use strict'

const fs = require('fs')
const path = require('path')
const { Kafka, logLevel, Partitioners } = require('kafkajs')
const { fetchAll } = require('./fetch')
const lib = require('../lib/checks')

const [mode, broker, topic, arg, outdir] = process.argv.slice(2)
const STEP = 15000 // milliseconds for any one check
const KEYS = 100

const { bad, run } = lib
// check NAME FN: FN returns true, or a string saying what is wrong.
const check = (name, fn) => lib.check(name, fn, STEP)

const kafka = new Kafka({
  clientId: 'klab-cluster',
  brokers: [broker],
  logLevel: logLevel.ERROR,
  logCreator: () => ({ namespace, log }) =>
    console.log(`  kafkajs ${namespace}: ${log.message}${log.error ? ` (${log.error})` : ''}`),
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
})

// Partition -> leader id, from one Metadata answer.
async function leaders(admin) {
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  const map = new Map()
  for (const p of md.topics[0].partitions) map.set(p.partitionId, p.leader)
  return map
}

async function create(parts) {
  const admin = kafka.admin()
  await check(`admin.connect through ${broker} only`, async () => {
    await admin.connect()
    return true
  })
  await check('admin.describeCluster names three brokers', async () => {
    const d = await admin.describeCluster()
    const ids = d.brokers.map(b => b.nodeId).sort()
    return JSON.stringify(ids) === '[1,2,3]' || JSON.stringify(d)
  })
  await check(`admin.createTopics: ${topic} with ${parts} partitions`, async () => {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: parts }] })
    return created === true || `createTopics returned ${created}`
  })
  await check(`admin.fetchTopicMetadata: ${parts} partitions, each with a leader`, async () => {
    const map = await leaders(admin)
    const good = map.size === parts && [...map.values()].every(l => [1, 2, 3].includes(l))
    return good || JSON.stringify([...map])
  })
  await admin.disconnect().catch(() => {})
}

async function produce(n) {
  const admin = kafka.admin()
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await check(`producer.connect through ${broker} only`, async () => {
    await admin.connect()
    await producer.connect()
    return true
  })
  const messages = Array.from({ length: n }, (_, i) => ({ key: `key-${i % KEYS}`, value: `kjs value ${i}` }))
  await check(`produce ${n} keyed records (acks -1) in batches of 500, each to its leader`, async () => {
    const res = []
    for (let i = 0; i < n; i += 500) {
      res.push(...(await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) })))
    }
    const errs = res.filter(r => r.errorCode !== 0)
    return errs.length === 0 || JSON.stringify(errs.slice(0, 5))
  })
  await producer.disconnect().catch(() => {})

  const lines = []
  let map
  await check(`admin.fetchTopicOffsets: ${n} records over all partitions`, async () => {
    map = await leaders(admin)
    const offs = await admin.fetchTopicOffsets(topic)
    const sum = offs.reduce((s, o) => s + Number(o.high), 0)
    const empty = offs.filter(o => Number(o.high) === 0).map(o => o.partition)
    return (sum === n && empty.length === 0) || `sum ${sum}, empty partitions ${empty}`
  })

  const cluster = (() => {
    const sym = Object.getOwnPropertySymbols(kafka).find(s => s.description === 'private:Kafka:createCluster')
    return kafka[sym]({})
  })()
  await check('kafkajs Fetch from each leader: every record back, keys and values, in order', async () => {
    await cluster.connect()
    await cluster.addTargetTopic(topic)
    const offs = await admin.fetchTopicOffsets(topic)
    const problems = []
    const seen = new Map() // key -> partition
    let total = 0
    for (const o of offs.sort((a, b) => a.partition - b.partition)) {
      const p = o.partition
      const msgs = await fetchAll(cluster, map.get(p), topic, p, Number(o.high))
      total += msgs.length
      let last = -1
      msgs.forEach((m, k) => {
        const key = m.key.toString()
        const value = m.value.toString()
        const i = Number(value.split(' ')[2])
        if (Number(m.offset) !== k || i <= last || messages[i].key !== key) {
          problems.push(`p${p}[${k}]: ${m.offset} ${key} ${value}`)
        }
        if (seen.has(key) && seen.get(key) !== p) problems.push(`${key} in p${seen.get(key)} and p${p}`)
        seen.set(key, p)
        last = i
        lines.push(`${p} ${key} ${value}\n`)
      })
    }
    if (total !== n) problems.push(`${total} records, want ${n}`)
    return problems.length === 0 || problems.slice(0, 10).join('\n')
  })
  fs.writeFileSync(path.join(outdir, 'kjs-want'), lines.join(''))
  await cluster.disconnect().catch(() => {})
  await admin.disconnect().catch(() => {})
}

async function main() {
  if (mode === 'create') await create(Number(arg))
  else if (mode === 'produce') await produce(Number(arg))
  else bad(`cluster.js: unknown mode ${mode}`)
}

run('cluster.js', main)
