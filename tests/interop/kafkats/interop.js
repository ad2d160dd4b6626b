// interop.js BROKER OUTDIR - kafka-ts 1.5.0 against a real `klab broker`
// (run by ../kafkats.sh, which starts the broker and checks the log on disk).
//
// kafka-ts sends each API at the highest version both sides list, retries
// ApiVersions at the broker's version after UNSUPPORTED_VERSION, and its
// producer is always idempotent: InitProducerId first, then Produce with
// that producer id and per-partition sequence numbers (acks -1).
//
// Checks: cluster.connect (ApiVersions); Metadata names broker 7 as
// controller; CreateTopics (3 partitions) and again (TOPIC_ALREADY_EXISTS);
// kafka-ts's murmur2 = Kafka's; producer.send of N keyed records with
// headers and timestamps; ListOffsets high watermarks = the Java partitioner's
// counts; a consumer without a group reads every record back (key, value,
// headers, timestamp, offset, partition); a consumer with a group fails with
// FindCoordinator's COORDINATOR_NOT_AVAILABLE (klab has no group coordinator
// before chapter 6); DeleteTopics of a second topic. Writes OUTDIR/partition-of (key partition)
// for kafkats.sh to compare with `klab repl` partition-of.
'use strict'

const fs = require('fs')
const path = require('path')
const { createKafkaClient, API, setLogger } = require('kafka-ts')
const { Consumer } = require('kafka-ts/dist/consumer/consumer')
const kmurmur2 = require('kafka-ts/dist/utils/murmur2')
const { check, describe, run, javaPartition, MURMUR2_CASES } = require('../lib/checks')

const [broker, outdir] = process.argv.slice(2)
const [host, port] = broker.split(':')
const BROKER_ID = 7
const N = 1000
const PARTS = 3
const T = 'kts-keys'
const GONE = 'kts-deleted' // created beside T, deleted at the end
const COORDINATOR_NOT_AVAILABLE = 15
const TOPIC_ALREADY_EXISTS = 36

// kafka-ts logs JSON to stdout; keep its warnings and errors (the group
// consumer's failure is read from them) and show them only when asked.
const logs = []
const keep = level => (message, meta) => logs.push({ level, message, meta })
setLogger({ debug: () => {}, info: () => {}, warn: keep('warn'), error: keep('error') })
const showLogs = () =>
  logs
    .slice(-5)
    .map(l => `  kafka-ts ${l.level}: ${l.message} ${l.meta ? describe(l.meta.lastError || l.meta) : ''}`)
    .join('\n')

const kafka = createKafkaClient({
  clientId: 'klab-interop-kafkats',
  bootstrapServers: [{ host, port: Number(port) }],
  requestTimeout: 10000,
  connectTimeout: 3000,
})

const BASE = BigInt(Date.now() - 3600 * 1000)
const records = Array.from({ length: N }, (_, i) => ({
  topic: T,
  key: `key-${i}`,
  value: `value ${i} of ${T}`,
  headers: { trace: '7', app: 'klab' },
  timestamp: BASE + BigInt(i),
}))
// What each partition must hold, in order: the record numbers.
const want = Array.from({ length: PARTS }, () => [])
for (let i = 0; i < N; i++) want[javaPartition(`key-${i}`, PARTS)].push(i)

async function main() {
  const cluster = kafka.createCluster()

  await check('cluster.connect (ApiVersions)', async () => {
    await cluster.connect()
    return true
  })

  await check('Metadata: broker 7 at the listener, and the controller', async () => {
    const md = await cluster.sendRequest(API.METADATA, {
      topics: null,
      allowTopicAutoCreation: false,
      includeTopicAuthorizedOperations: false,
    })
    const b = md.brokers
    return (
      (md.controllerId === BROKER_ID &&
        b.length === 1 &&
        b[0].nodeId === BROKER_ID &&
        b[0].host === host &&
        b[0].port === Number(port)) ||
      JSON.stringify(md.brokers) + ` controller ${md.controllerId}`
    )
  })

  const create = () =>
    cluster.sendRequestToNode(BROKER_ID)(API.CREATE_TOPICS, {
      topics: [T, GONE].map(name => ({ name, numPartitions: PARTS, replicationFactor: 1, assignments: [], configs: [] })),
      timeoutMs: 5000,
      validateOnly: false,
    })
  await check(`CreateTopics ${T} and ${GONE} with ${PARTS} partitions`, async () => {
    const r = await create()
    const good = r.topics.length === 2 && r.topics.every(t => [T, GONE].includes(t.name) && t.errorCode === 0)
    return good || JSON.stringify(r.topics)
  })
  await check('CreateTopics again: TOPIC_ALREADY_EXISTS', async () => {
    try {
      const r = await create()
      return r.topics.every(t => t.errorCode === TOPIC_ALREADY_EXISTS) || JSON.stringify(r.topics)
    } catch (e) {
      return e.errorCode === TOPIC_ALREADY_EXISTS || describe(e)
    }
  })

  await check(`Metadata ${T}: ${PARTS} partitions led by broker 7`, async () => {
    const md = await cluster.sendRequest(API.METADATA, {
      topics: [{ id: null, name: T }],
      allowTopicAutoCreation: false,
      includeTopicAuthorizedOperations: false,
    })
    const t = md.topics[0]
    const ps = t.partitions.slice().sort((a, b) => a.partitionIndex - b.partitionIndex)
    return (
      (t.errorCode === 0 &&
        ps.length === PARTS &&
        ps.every(
          (p, i) =>
            p.partitionIndex === i &&
            p.errorCode === 0 &&
            p.leaderId === BROKER_ID &&
            JSON.stringify(p.replicaNodes) === `[${BROKER_ID}]` &&
            JSON.stringify(p.isrNodes) === `[${BROKER_ID}]`
        )) ||
      JSON.stringify(t)
    )
  })

  await check("kafka-ts's murmur2 and default partitioner are Kafka's (Java-compatible)", async () => {
    const wrong = MURMUR2_CASES.filter(([k, h]) => kmurmur2.murmur2(Buffer.from(k)) !== h)
    for (let i = 0; i < N; i++) {
      const k = `key-${i}`
      if (kmurmur2.toPositive(kmurmur2.murmur2(Buffer.from(k))) % PARTS !== javaPartition(k, PARTS))
        wrong.push([k, 'partition'])
    }
    return wrong.length === 0 || JSON.stringify(wrong.slice(0, 5))
  })
  fs.writeFileSync(
    path.join(outdir, 'partition-of'),
    ['key-0', 'key-1', 'key-7', 'key-42', 'key-999'].map(k => `${k} ${javaPartition(k, PARTS)}\n`).join('')
  )

  // ---- the idempotent producer ------------------------------------------------
  const producer = kafka.createProducer({ maxRetries: 2, retryDelayMs: 100 })
  const sent = await check(
    `producer.send: ${N} keyed records with headers (idempotent: InitProducerId, then Produce)`,
    async () => {
      for (let i = 0; i < N; i += 250) await producer.send(records.slice(i, i + 250))
      return true
    },
    20000
  )
  if (!sent && logs.length) console.log(showLogs())
  await producer.close().catch(() => {})

  await check('ListOffsets: high watermarks = the Java partitioner\'s counts', async () => {
    const r = await cluster.sendRequestToNode(BROKER_ID)(API.LIST_OFFSETS, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: T,
          partitions: Array.from({ length: PARTS }, (_, p) => ({
            partitionIndex: p,
            currentLeaderEpoch: -1,
            timestamp: -1n,
          })),
        },
      ],
    })
    const got = r.topics[0].partitions
      .slice()
      .sort((a, b) => a.partitionIndex - b.partitionIndex)
      .map(p => `${p.partitionIndex}:${p.offset}`)
      .join(' ')
    const exp = want.map((l, p) => `${p}:${l.length}`).join(' ')
    return got === exp || `got ${got}, want ${exp}`
  })

  // ---- a consumer without a group reads everything back -------------------------
  await check(
    `consumer without a group (fromBeginning): all ${N} records back, in their partitions`,
    async () => {
      const got = Array.from({ length: PARTS }, () => [])
      let total = 0
      let done
      const all = new Promise(resolve => (done = resolve))
      const consumer = await kafka.startConsumer({
        topics: [T],
        fromBeginning: true,
        maxWaitMs: 200,
        onBatch: batch => {
          for (const m of batch) got[m.partition].push(m)
          total += batch.length
          if (total >= N) done()
        },
      })
      await Promise.race([all, new Promise(r => setTimeout(r, 10000).unref())])
      await consumer.close(true)
      const problems = []
      for (let p = 0; p < PARTS; p++) {
        if (got[p].length !== want[p].length) problems.push(`p${p}: ${got[p].length} records, want ${want[p].length}`)
        got[p].forEach((m, k) => {
          const i = want[p][k]
          if (i === undefined) return
          const good =
            m.key === `key-${i}` &&
            m.value === `value ${i} of ${T}` &&
            m.offset === BigInt(k) &&
            m.timestamp === BASE + BigInt(i) &&
            m.headers.trace === '7' &&
            m.headers.app === 'klab'
          if (!good && problems.length < 5)
            problems.push(`p${p}[${k}]: ${m.key} ${m.value} ${m.offset} ${m.timestamp} ${JSON.stringify(m.headers)}`)
        })
      }
      return problems.length === 0 || problems.join('\n')
    },
    20000
  )

  // ---- a group consumer: no coordinator before chapter 6 ------------------------
  await check('consumer with a group: FindCoordinator answers COORDINATOR_NOT_AVAILABLE', async () => {
    const from = logs.length
    const consumer = new Consumer(kafka.createCluster(), {
      groupId: 'kts-group',
      topics: [T],
      fromBeginning: true,
      onBatch: () => {},
    })
    let started = false
    consumer.start().then(() => (started = true), () => {})
    const deadline = Date.now() + 8000
    let seen
    while (!seen && !started && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 100))
      seen = logs
        .slice(from)
        .map(l => (l.meta && l.meta.lastError) || l.meta)
        .find(e => e && e.apiName === 'FIND_COORDINATOR' && e.errorCode === COORDINATOR_NOT_AVAILABLE)
    }
    await consumer.close(true).catch(() => {})
    if (started) return 'the group consumer started: does klab have a group coordinator now?'
    return seen ? true : `no COORDINATOR_NOT_AVAILABLE from FindCoordinator within 8 s\n${showLogs()}`
  }, 15000)

  await check(`DeleteTopics ${GONE}; Metadata lists ${T} and no longer ${GONE}`, async () => {
    await cluster.sendRequestToNode(BROKER_ID)(API.DELETE_TOPICS, {
      topics: [{ name: GONE, topicId: null }],
      timeoutMs: 5000,
    })
    const md = await cluster.sendRequest(API.METADATA, {
      topics: null,
      allowTopicAutoCreation: false,
      includeTopicAuthorizedOperations: false,
    })
    const names = md.topics.map(t => t.name)
    return (names.includes(T) && !names.includes(GONE)) || JSON.stringify(names)
  })

  await cluster.disconnect().catch(() => {})
}

run('interop.js', main)
